"""Reconcile slots that record decisions before carrying them out.

At most ``size`` GoLive reconciles talk to the API server at once (like kopf's worker limit),
so a clock jump that makes a whole wave due queues it instead of flooding the API server.

Why two priorities: a reconcile first decides and persists (the status shows the new phase,
which is what a project lead watches), then acts (creates the MigrationJob, the smoke Job, ...).
When 400 tenants become due together, a plain queue lets the first tenants' actions, and the
API traffic they cause, delay the last tenants' decisions by seconds. Here a reconcile that has
persisted its decision gives its slot to any reconcile still waiting to decide, and acts once
none is waiting. The order of each reconcile's own steps is unchanged (persist, then act), so
crash safety is the same; only who goes next differs.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

#: A reconcile that has not yet persisted its decision.
DECIDE: Final = 0
#: A reconcile carrying out a decision it has persisted.
CARRY_OUT: Final = 1


class Slot:
    """One held slot; :meth:`lower` moves its holder behind every reconcile waiting to decide."""

    def __init__(self, slots: PrioritySlots, priority: int) -> None:
        self._slots = slots
        self.priority = priority
        self.held = True

    async def lower(self) -> None:
        if self.priority == CARRY_OUT:
            return
        self.priority = CARRY_OUT
        if self._slots.waiting(DECIDE):
            self._slots.release()
            self.held = False
            await self._slots.acquire(CARRY_OUT)
            self.held = True


class PrioritySlots:
    """A semaphore whose waiters are served by priority (lower first), then in arrival order."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = size
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrival = itertools.count()
        #: Waiters not yet granted nor cancelled, and how many per priority (asked on every lowering).
        self._live: dict[asyncio.Future[None], int] = {}
        self._counts: dict[int, int] = {}

    def waiting(self, priority: int) -> int:
        """How many reconciles wait with exactly ``priority``."""
        return self._counts.get(priority, 0)

    @property
    def in_use(self) -> int:
        return self.size - self._free

    async def acquire(self, priority: int = DECIDE) -> None:
        if self._free > 0:  # then nobody waits: a release hands its slot to a waiter before freeing it
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._arrival), future))
        self._live[future] = priority
        self._counts[priority] = self._counts.get(priority, 0) + 1
        try:
            await future
        except asyncio.CancelledError:
            if future in self._live:
                self._forget(future)  # cancelled while waiting
            elif future.done() and not future.cancelled():
                self.release()  # granted and cancelled in the same step: hand the slot on
            raise

    def _forget(self, future: asyncio.Future[None]) -> None:
        priority = self._live.pop(future)
        self._counts[priority] -= 1

    def release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if future in self._live and not future.done():
                self._forget(future)
                future.set_result(None)  # the slot passes straight to the next waiter
                return
        self._free += 1

    @asynccontextmanager
    async def hold(self, priority: int = DECIDE) -> AsyncIterator[Slot]:
        await self.acquire(priority)
        slot = Slot(self, priority)
        try:
            yield slot
        finally:
            if slot.held:
                self.release()
