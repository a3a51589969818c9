"""Reconcile slots: decisions waiting are served before decisions being carried out; nothing leaks a slot."""

from __future__ import annotations

import asyncio

import kopf
import pytest

from epj.operator.runner import EssenceStorage
from epj.operator.slots import CARRY_OUT, DECIDE, PrioritySlots


async def test_a_reconcile_that_decided_lets_waiting_decisions_go_first() -> None:
    slots = PrioritySlots(1)
    order: list[str] = []
    queued = asyncio.Event()

    async def reconcile(name: str) -> None:
        async with slots.hold() as slot:
            order.append(f"{name} decides")
            if name == "a":
                await queued.wait()  # b and c wait for the slot meanwhile
            await slot.lower()
            order.append(f"{name} acts")

    first = asyncio.create_task(reconcile("a"))
    await asyncio.sleep(0)
    others = [asyncio.create_task(reconcile(n)) for n in ("b", "c")]
    while slots.waiting(DECIDE) < 2:
        await asyncio.sleep(0)
    queued.set()
    await asyncio.gather(first, *others)
    # c, the last to decide, has nobody to give way to and acts at once; a and b act in the order they queued.
    assert order == ["a decides", "b decides", "c decides", "c acts", "a acts", "b acts"]
    assert slots.in_use == 0


async def test_lowering_with_nobody_waiting_keeps_the_slot() -> None:
    slots = PrioritySlots(2)
    async with slots.hold() as slot:
        await slot.lower()
        assert slot.priority == CARRY_OUT and slot.held and slots.in_use == 1
        await slot.lower()  # once only
        assert slots.in_use == 1
    assert slots.in_use == 0


async def test_at_most_size_hold_a_slot() -> None:
    slots = PrioritySlots(3)
    inside = peak = 0

    async def work() -> None:
        nonlocal inside, peak
        async with slots.hold() as slot:
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.001)
            inside -= 1
            await slot.lower()
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.001)
            inside -= 1

    await asyncio.gather(*(work() for _ in range(20)))
    assert peak == 3 and slots.in_use == 0


async def test_a_cancelled_waiter_neither_takes_nor_loses_a_slot() -> None:
    slots = PrioritySlots(1)
    await slots.acquire()
    waiter = asyncio.create_task(slots.acquire(DECIDE))
    await asyncio.sleep(0)
    assert slots.waiting(DECIDE) == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    slots.release()
    assert slots.in_use == 0
    await asyncio.wait_for(slots.acquire(), 1)  # the slot is free again
    assert slots.in_use == 1


async def test_a_lowered_slot_cancelled_while_waiting_is_not_released_twice() -> None:
    slots = PrioritySlots(1)
    entered = asyncio.Event()

    async def holder() -> None:
        async with slots.hold() as slot:
            entered.set()
            await asyncio.sleep(0.01)
            await slot.lower()  # a decision waits: gives the slot away and queues
            await asyncio.sleep(10)

    task = asyncio.create_task(holder())
    await entered.wait()
    other = asyncio.create_task(slots.acquire(DECIDE))
    await asyncio.sleep(0.05)
    assert other.done()  # it got the slot the holder gave away
    task.cancel()  # the holder waits at CARRY_OUT, holding nothing
    with pytest.raises(asyncio.CancelledError):
        await task
    assert slots.in_use == 1
    slots.release()
    assert slots.in_use == 0


@pytest.mark.parametrize(
    "body",
    [
        {"apiVersion": "epj.no/v1alpha1", "kind": "GoLive",
         "metadata": {"name": "g", "labels": {"a": "b"}, "ownerReferences": [{"kind": "RolloutWave", "name": "w"}],
                      "finalizers": ["epj.no/golive-operator"], "generation": 4, "resourceVersion": "9",
                      "managedFields": [{"manager": "kopf", "fieldsV1": {"f:status": {}}}],
                      "annotations": {"epj.no/last-handled-configuration": "{}", "keep": "1"}},
         "spec": {"kommunenummer": "5035", "schedule": {"freezeDays": 3}},
         "status": {"phase": "Cutover", "history": [{"kind": "Transition"}] * 50}},
        {"kind": "RolloutWave", "metadata": {"name": "w"}, "spec": {"members": [{"kommunenummer": "5035"}]}},
        {"kind": "GoLive", "spec": {}, "status": {"phase": "Live"},
         "metadata": {"name": "g", "annotations": {"other-operator.io/last-handled-configuration": "{}",
                                                   "kubectl.kubernetes.io/last-applied-configuration": "{}"}}},
    ],
)  # fmt: skip
def test_the_essence_is_kopfs_own(body: dict[str, object]) -> None:
    """The diff-base built without the status is the one kopf builds from the whole body."""
    ours = EssenceStorage(prefix="epj.no", key="last-handled-configuration")
    kopfs = kopf.AnnotationsDiffBaseStorage(prefix="epj.no", key="last-handled-configuration")
    wrapped = kopf.Body(body)  # type: ignore[arg-type]
    assert ours.build(body=wrapped) == kopfs.build(body=wrapped)
    assert "status" not in ours.build(body=wrapped)
