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
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from epj.operator.kube import EVENTS, Body, KubeClient

logger = logging.getLogger(__name__)
#: kopf's limit on an Event's message (longer ones are refused by some API servers).
MAX_MESSAGE = 1024
#: How long the stop may spend posting what is still held.
FLUSH_SECONDS = 10.0
#: Posts one event (object reference, type, reason, message) without kopf.
DirectPoster = Callable[[Body, str, str, str], Awaitable[None]]

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
    """Holds this operator's events while decisions wait (``busy()``), then hands them to kopf in order.

    Held at most ``max_hold`` seconds: with reconciles queued all night (a wave polling its Jobs) on-call still
    sees its events, a little late. At stop, kopf's own event poster is already gone (kopf stops its tasks
    before the cleanup handlers run), so what is still held is posted through ``direct`` (the operator's own
    API client) when given: handed to kopf then, it would be dropped.
    """

    def __init__(
        self,
        busy: Callable[[], bool],
        *,
        pause: float = 0.05,
        max_hold: float = 2.0,
        direct: DirectPoster | None = None,
    ) -> None:
        self._busy = busy
        self._pause = pause
        self._max_hold = max_hold
        self._direct = direct
        self._items: asyncio.Queue[tuple[float, Pending]] = asyncio.Queue()

    def put(self, body: Body, type_: str, reason: str, message: str) -> None:
        self._items.put_nowait((time.monotonic(), (contextvars.copy_context(), body, type_, reason, message)))

    def register(self) -> None:
        _QUEUES[asyncio.get_running_loop()] = self

    def unregister(self) -> None:
        """Stop queueing and hand over what is still queued to kopf (nothing is dropped here)."""
        _QUEUES.pop(asyncio.get_running_loop(), None)
        while not self._items.empty():
            _post_from(*self._items.get_nowait()[1])

    async def run(self) -> None:
        item: Pending | None = None
        try:
            while True:
                since, item = await self._items.get()
                while self._busy() and time.monotonic() - since < self._max_hold:
                    await asyncio.sleep(self._pause)
                _post_from(*item)
                item = None
        finally:
            if self._direct is None:
                if item is not None:  # stopped while holding it back
                    _post_from(*item)
                self.unregister()
            else:
                await self._flush_directly(item)

    async def _flush_directly(self, item: Pending | None) -> None:
        """At stop: post what is held with the operator's own client, in order (kopf's poster has stopped)."""
        assert self._direct is not None
        _QUEUES.pop(asyncio.get_running_loop(), None)
        held = [item] if item is not None else []
        while not self._items.empty():
            held.append(self._items.get_nowait()[1])
        try:
            async with asyncio.timeout(FLUSH_SECONDS):  # an API server gone at stop does not hold the stop up
                for _, body, type_, reason, message in held:
                    try:
                        await self._direct(body, type_, reason, message)
                    except Exception as error:  # an event is auxiliary: the stop goes on
                        logger.warning("could not post a held event (%s: %s)", reason, type(error).__name__)
        except TimeoutError:
            logger.warning("held events not all posted at stop (the API server did not answer in time)")


async def post_directly(client: KubeClient, body: Body, type_: str, reason: str, message: str) -> None:
    """Create the Event as kopf would (same source, same fields), through our own API client."""
    meta = body.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    now = dt.datetime.now(dt.UTC).isoformat()
    event = {
        "metadata": {"namespace": namespace, "generateName": "kopf-event-"},
        "action": "Action?",
        "type": type_,
        "reason": reason,
        "message": message,
        "reportingComponent": "kopf",
        "reportingInstance": "dev",
        "source": {"component": "kopf"},
        "involvedObject": {
            "apiVersion": body.get("apiVersion"),
            "kind": body.get("kind"),
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "namespace": namespace,
        },
        "firstTimestamp": now,
        "lastTimestamp": now,
        "eventTime": now,
    }
    await client.create(EVENTS, namespace, event)
