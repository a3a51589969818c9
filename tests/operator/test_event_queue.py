"""Our Kubernetes Events wait while decisions wait for a slot, then go out in order; none is dropped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from epj.operator import events
from epj.operator.events import EventQueue, post_event


def _golive(name: str) -> dict[str, Any]:
    return {"apiVersion": "epj.no/v1alpha1", "kind": "GoLive",
            "metadata": {"name": name, "namespace": "epj-system", "uid": f"uid-{name}", "labels": {"x": "y"}},
            "spec": {"kommunenummer": "5035"}, "status": {"phase": "Cutover"}}  # fmt: skip


async def test_events_wait_while_decisions_wait_then_go_out_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    posted: list[tuple[str, str, str]] = []
    monkeypatch.setattr(
        events, "_post", lambda body, t, reason, msg: posted.append((body["metadata"]["name"], t, reason))
    )
    busy = True
    queue = EventQueue(lambda: busy, pause=0.001)
    queue.register()
    task = asyncio.create_task(queue.run())
    try:
        post_event(_golive("golive-5035"), "Normal", "Transition", "Freeze -> Cutover")
        post_event(_golive("golive-5031"), "Warning", "JobStuck", "pull")
        await asyncio.sleep(0.02)
        assert posted == []  # decisions are waiting
        busy = False
        for _ in range(100):
            if len(posted) == 2:
                break
            await asyncio.sleep(0.001)
        assert posted == [("golive-5035", "Normal", "Transition"), ("golive-5031", "Warning", "JobStuck")]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_queued_reference_is_taken_when_posted_and_the_rest_is_handed_over_at_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    posted: list[dict[str, Any]] = []
    monkeypatch.setattr(events, "_post", lambda body, *_: posted.append(body))
    queue = EventQueue(lambda: True)
    queue.register()
    task = asyncio.create_task(queue.run())
    body = _golive("golive-5035")
    post_event(body, "Normal", "Transition", "x")
    body["metadata"]["name"] = "changed-later"
    await asyncio.sleep(0)
    task.cancel()  # the operator stops while decisions still wait: the event is handed over, not dropped
    await asyncio.gather(task, return_exceptions=True)
    reference = {"name": "golive-5035", "namespace": "epj-system", "uid": "uid-golive-5035"}
    assert posted == [{"apiVersion": "epj.no/v1alpha1", "kind": "GoLive", "metadata": reference}]
    post_event(body, "Normal", "Transition", "after stop")  # no queue any more: straight to kopf
    assert posted[-1]["metadata"]["name"] == "changed-later"
