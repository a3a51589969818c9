"""Breaker: our Kubernetes Events held while decisions wait — at operator stop, and when decisions keep waiting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from epj.golive.schedule import Schedule
from epj.operator import events
from epj.operator.events import EventQueue, post_event
from epj.operator.slots import DECIDE
from epj.operator.testing import LocalCluster


def _golive(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "epj.no/v1alpha1", "kind": "GoLive",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"}}  # fmt: skip


async def test_events_held_when_the_operator_stops_reach_the_api_server(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """Expected: an event held back (decisions waiting) when the operator stops is in the API server after."""
    ctx = await cluster.start_operator()
    operator = cluster._operator
    assert operator is not None
    slots = ctx.slots()
    waiters: list[asyncio.Future[None]] = []

    async def busy_then_post() -> None:
        for _ in range(slots.size):
            await slots.acquire()
        waiters.append(asyncio.ensure_future(slots.acquire(DECIDE)))  # a decision waits for a slot
        await asyncio.sleep(0)
        assert slots.waiting(DECIDE) == 1
        post_event(_golive("golive-5035", cluster.namespace), "Normal", "Transition", "held at stop")

    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(busy_then_post(), operator.loop))
    await asyncio.sleep(0.2)
    assert [e for e in await cluster.events("golive-5035") if e.get("message") == "held at stop"] == []
    await cluster.stop_operator()
    posted = [e for e in await cluster.events("golive-5035") if e.get("message") == "held at stop"]
    assert len(posted) == 1


async def test_an_event_is_not_held_for_ever_while_decisions_keep_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A night with reconciles always queued (a wave polling its Jobs) still shows its events, a few seconds late.

    Expected: held at most a few seconds (the module says "a second or two later in a burst").
    """
    posted: list[str] = []
    monkeypatch.setattr(events, "_post", lambda body, t, reason, msg: posted.append(msg))
    queue = EventQueue(lambda: True, pause=0.01)
    queue.register()
    task = asyncio.ensure_future(queue.run())
    try:
        post_event(_golive("golive-5035", "epj-system"), "Warning", "JobStuck", "pull")
        for _ in range(500):
            if posted:
                break
            await asyncio.sleep(0.01)
        assert posted == ["pull"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
