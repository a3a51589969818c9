"""Kubernetes Events on our objects (one helper, so every adapter posts them the same way).

Events are what on-call reads with ``kubectl describe``; they are not what the operator decides
on. So while reconciles wait to record decisions (a whole wave due at once), the operator's
events wait for them: :class:`EventQueue` posts in arrival order once no decision is waiting,
a second or two later in a burst, at once otherwise. Without an operator running (CLI, tests
of one handler) they are handed to kopf directly.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any, cast

from epj.operator.kube import Body

#: The queue of the operator running in each event loop (tests run several operators, one loop each).
_QUEUES: dict[asyncio.AbstractEventLoop, EventQueue] = {}

#: An event and the context it was posted from (kopf finds its event queue through context variables that
#: the operator's handlers have and a task started at start-up does not).
Pending = tuple[contextvars.Context, Body, str, str, str]


def post_event(body: Body, type_: str, reason: str, message: str) -> None:
    """A Kubernetes Event on the object (posted in the background)."""
    try:
        queue = _QUEUES.get(asyncio.get_running_loop())
    except RuntimeError:
        queue = None
    if queue is not None:
        queue.put(_reference(body), type_, reason, message)
    else:
        _post(body, type_, reason, message)


def _reference(body: Body) -> Body:
    """What an Event needs of its object, copied now (the body may change before it is posted)."""
    meta = body.get("metadata") or {}
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {k: meta.get(k) for k in ("name", "namespace", "uid", "resourceVersion") if meta.get(k)},
    }


def _post(body: Body, type_: str, reason: str, message: str) -> None:
    import kopf

    kopf.event(kopf.Body(cast(Any, body)), type=type_, reason=reason, message=message)  # RawBody is a TypedDict


def _post_from(context: contextvars.Context, body: Body, type_: str, reason: str, message: str) -> None:
    context.run(_post, body, type_, reason, message)


class EventQueue:
    """Holds this operator's events while decisions wait (``busy()``), then hands them to kopf in order."""

    def __init__(self, busy: Callable[[], bool], *, pause: float = 0.05) -> None:
        self._busy = busy
        self._pause = pause
        self._items: asyncio.Queue[Pending] = asyncio.Queue()

    def put(self, body: Body, type_: str, reason: str, message: str) -> None:
        self._items.put_nowait((contextvars.copy_context(), body, type_, reason, message))

    def register(self) -> None:
        _QUEUES[asyncio.get_running_loop()] = self

    def unregister(self) -> None:
        """Stop queueing and hand over what is still queued (nothing is dropped)."""
        _QUEUES.pop(asyncio.get_running_loop(), None)
        while not self._items.empty():
            _post_from(*self._items.get_nowait())

    async def run(self) -> None:
        item: Pending | None = None
        try:
            while True:
                item = await self._items.get()
                while self._busy():
                    await asyncio.sleep(self._pause)
                _post_from(*item)
                item = None
        finally:
            if item is not None:  # stopped while holding it back
                _post_from(*item)
            self.unregister()
