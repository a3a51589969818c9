"""Breaker: the batch-Job watch under a broken stream (RBAC refusal, expired versions, a dropped connection)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from epj.operator import jobwatch
from epj.operator.context import OperatorContext
from epj.operator.jobwatch import JobWatch
from epj.operator.kube import ApiError, KubeClient


class _Stream:
    """A client whose watch answers from a script: an exception to raise or a list of events to stream."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.versions: list[str | None] = []
        self.done = asyncio.Event()

    async def watch(self, *_: Any, resource_version: str | None = None, **__: Any) -> AsyncIterator[dict[str, Any]]:
        self.versions.append(resource_version)
        if not self.script:
            self.done.set()
            await asyncio.Event().wait()  # an idle stream, until the test cancels the watch
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        for event in step:
            yield event


async def _run(monkeypatch: pytest.MonkeyPatch, script: list[Any]) -> tuple[JobWatch, _Stream]:
    async def no_wait(_: float) -> None:
        await asyncio.sleep(0)

    # The backoff (up to a minute) is not what these tests are about.
    monkeypatch.setattr(jobwatch, "asyncio", SimpleNamespace(sleep=no_wait, CancelledError=asyncio.CancelledError))
    ctx = OperatorContext(client=KubeClient("http://127.0.0.1:1"))
    stream = _Stream(script)
    ctx.client = stream  # type: ignore[assignment]
    watch = JobWatch(ctx)
    task = asyncio.ensure_future(watch.run())
    try:
        await asyncio.wait_for(stream.done.wait(), 5)
        assert not task.done(), task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return watch, stream


def _bookmark(rv: str) -> dict[str, Any]:
    return {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": rv}}}


async def test_an_expired_version_refused_with_http_410_starts_again_from_a_fresh_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """410 Gone may come as the answer to the watch request itself (not only as an ERROR event in the stream):
    resuming from the same version again would be refused forever. Expected: the next watch starts anew."""
    gone = ApiError(410, "WATCH", "/apis/batch/v1/jobs", "too old resource version")
    _, stream = await _run(monkeypatch, [[_bookmark("41")], gone])
    assert stream.versions == [None, "41", None]


async def test_a_forbidden_watch_is_reported_once_not_every_retry(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without list/watch on Jobs the operator polls; on-call reads that once, not once a minute all night."""
    forbidden = [ApiError(403, "WATCH", "/apis/batch/v1/jobs", "forbidden") for _ in range(30)]
    with caplog.at_level(logging.WARNING, logger=jobwatch.__name__):
        _, stream = await _run(monkeypatch, forbidden)
    assert len(stream.versions) == 31
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


async def test_an_unexpected_error_does_not_end_the_watch_for_good(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dropped connection that surfaces as a bare OSError (or anything else) is retried like the others."""
    script: list[Any] = [ConnectionResetError("reset by peer"), aiohttp.ClientPayloadError("cut"), RuntimeError("?")]
    _, stream = await _run(monkeypatch, script)
    assert len(stream.versions) == 4
