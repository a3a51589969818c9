"""``OperatorContext.read_now``: callers asking at once share one GET; nobody gets an answer older than its ask."""

from __future__ import annotations

import asyncio
from typing import Any

from epj.operator.context import OperatorContext
from epj.operator.kube import ROLLOUT_WAVES, Resource


class CountingClient:
    """A stand-in API server: the wave's ``paused`` lever, and a log of the GETs it served."""

    def __init__(self) -> None:
        self.paused = False
        self.gets: list[bool] = []  # the lever's value each GET answered with
        self.release = asyncio.Event()

    async def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        seen = self.paused  # the server's state when the request arrives
        self.gets.append(seen)
        await self.release.wait()
        return {"metadata": {"name": name}, "spec": {"paused": seen}}


def test_callers_that_ask_together_share_one_get() -> None:
    async def scenario() -> tuple[int, list[Any]]:
        client = CountingClient()
        ctx = OperatorContext(client=client)  # type: ignore[arg-type]  # only get() is used
        client.release.set()
        answers = await asyncio.gather(*(ctx.read_now(ROLLOUT_WAVES, "ns", "wave-1") for _ in range(5)))
        return len(client.gets), answers

    gets, answers = asyncio.run(scenario())
    assert gets == 1
    assert answers == [{"metadata": {"name": "wave-1"}, "spec": {"paused": False}}] * 5


def test_a_caller_arriving_after_the_get_was_sent_waits_for_a_new_get() -> None:
    """A lever pulled while a GET is in flight is seen by every reconcile that asked after the pull."""

    async def scenario() -> tuple[list[bool], bool, bool]:
        client = CountingClient()
        ctx = OperatorContext(client=client)  # type: ignore[arg-type]  # only get() is used
        first = asyncio.ensure_future(ctx.read_now(ROLLOUT_WAVES, "ns", "wave-1"))
        while not client.gets:  # until the first GET reached the server
            await asyncio.sleep(0)
        client.paused = True  # the lever is pulled now
        second = asyncio.ensure_future(ctx.read_now(ROLLOUT_WAVES, "ns", "wave-1"))
        while len(client.gets) < 2:
            await asyncio.sleep(0)
        client.release.set()
        a, b = await first, await second
        assert a is not None and b is not None
        return client.gets, a["spec"]["paused"], b["spec"]["paused"]

    gets, first_paused, second_paused = asyncio.run(scenario())
    assert gets == [False, True]
    assert (first_paused, second_paused) == (False, True)


def test_a_missing_object_reads_as_none_and_errors_reach_every_caller() -> None:
    class Failing:
        calls = 0

        async def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
            Failing.calls += 1
            if name == "gone":
                return None
            raise RuntimeError("API down")

    async def scenario() -> tuple[Any, list[Any]]:
        ctx = OperatorContext(client=Failing())  # type: ignore[arg-type]  # only get() is used
        gone = await ctx.read_now(ROLLOUT_WAVES, "ns", "gone")
        failures = await asyncio.gather(
            *(ctx.read_now(ROLLOUT_WAVES, "ns", "broken") for _ in range(3)), return_exceptions=True
        )
        return gone, failures

    gone, failures = asyncio.run(scenario())
    assert gone is None
    assert [str(f) for f in failures] == ["API down"] * 3
    assert Failing.calls == 2
