"""brk3: answers that are not a Kubernetes API's (a proxy's 502 page, an empty body, HTML on 200) are one plain error.

``epj golive status --server URL`` is pointed at a tiny HTTP server on loopback that answers every request
the same odd way. Rule 4 of the developers: one plain line naming the API call and what came back, exit 1
(the API's errors), never a traceback, never "unexpected AttributeError", never a table made of nothing.
The expected words are written here by hand.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from typer.testing import CliRunner

from epj.cli import app
from epj.operator.kube import GOLIVES, ApiError, KubeClient

runner = CliRunner()


class Answering:
    """An HTTP server on 127.0.0.1 (its own thread and loop) that gives every request ``answer``."""

    def __init__(self) -> None:
        self.answer: tuple[int, str, bytes] = (200, "application/json", b"{}")
        self.loop = asyncio.new_event_loop()
        self.url = ""

    async def _handle(self, _: web.Request) -> web.Response:
        status, content_type, body = self.answer
        return web.Response(status=status, body=body, content_type=content_type)

    async def _start(self) -> web.AppRunner:
        application = web.Application()
        application.router.add_route("*", "/{tail:.*}", self._handle)
        site_runner = web.AppRunner(application)
        await site_runner.setup()
        site = web.TCPSite(site_runner, "127.0.0.1", 0)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        return site_runner


@pytest.fixture(scope="module")
def server() -> Iterator[Answering]:
    answering = Answering()
    site_runner = answering.loop.run_until_complete(answering._start())
    thread = threading.Thread(target=answering.loop.run_forever, daemon=True)
    thread.start()
    yield answering
    asyncio.run_coroutine_threadsafe(site_runner.cleanup(), answering.loop).result(5)
    answering.loop.call_soon_threadsafe(answering.loop.stop)
    thread.join(5)


#: (name, status, content type, body, words the one error line must contain)
ANSWERS: list[tuple[str, int, str, bytes, str]] = [
    ("proxy-502-html", 502, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>", "HTTP 502"),
    ("proxy-502-empty", 502, "text/plain", b"", "HTTP 502: Bad Gateway"),
    ("500-empty-json", 500, "application/json", b"", "HTTP 500: Internal Server Error"),
    ("502-not-utf8", 502, "application/octet-stream", b"\xff\xfe\x00garbage\x80", "HTTP 502"),
    ("403-json-not-status", 403, "application/json", b'"forbidden"', "HTTP 403"),
    ("503-json-list", 503, "application/json", b"[1, 2]", "HTTP 503"),
    ("200-login-page", 200, "text/html", b"<html>Sign in</html>", "not a Kubernetes object"),
    ("200-empty", 200, "application/json", b"", "not a Kubernetes object"),
    ("200-null", 200, "application/json", b"null", "not a Kubernetes object"),
    ("200-list", 200, "application/json", b"[]", "not a Kubernetes object"),
    ("200-not-utf8", 200, "application/json", b"\xff\xfe", "not a Kubernetes object"),
]


@pytest.mark.parametrize("tenant", [[], ["--tenant", "5035"]], ids=["all", "one"])
@pytest.mark.parametrize(("name", "status", "content_type", "body", "words"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_status_against_an_answer_that_is_not_the_apis_is_one_plain_error(
    server: Answering, tenant: list[str], name: str, status: int, content_type: str, body: bytes, words: str
) -> None:
    server.answer = (status, content_type, body)
    result = runner.invoke(app, ["golive", "status", *tenant, "--server", server.url])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert len(set(lines)) == 1, lines  # one message (CliRunner may mix stderr into output twice)
    assert lines[0].startswith("error: "), lines
    assert words in lines[0], lines
    assert "unexpected" not in lines[0] and "Traceback" not in result.output
    assert "Tenant" not in result.output  # no table of nothing


async def test_writers_that_do_not_read_the_answer_and_deletes_accept_an_empty_one(server: Answering) -> None:
    """What stays lenient: ``answer=False`` and an empty answer to a DELETE (nothing is read from them)."""
    server.answer = (200, "application/json", b"")
    async with KubeClient(server.url) as client:
        assert await client.patch_status(GOLIVES, "ns", "golive-5035", {"phase": "Live"}, answer=False) == {}
        await client.delete(GOLIVES, "ns", "golive-5035")
        with pytest.raises(ApiError) as raised:
            await client.get(GOLIVES, "ns", "golive-5035")
    assert raised.value.status == 200


async def test_a_watch_refused_with_a_binary_page_is_an_api_error(server: Answering) -> None:
    server.answer = (502, "application/octet-stream", b"\xff\xfe\x00")
    events: list[Any] = []
    async with KubeClient(server.url) as client:
        with pytest.raises(ApiError) as raised:
            async for event in client.watch(GOLIVES, "ns"):
                events.append(event)
    assert raised.value.status == 502 and not events


@pytest.mark.parametrize("url", ["banana", "ftp://api.example", "http://[::1", "https://"])
def test_a_server_that_is_not_an_http_url_is_named(url: str) -> None:
    result = runner.invoke(app, ["golive", "status", "--server", url])
    lines = {line for line in result.output.splitlines() if line.strip()}
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, lines
    line = lines.pop()
    assert line.startswith("error: --server") and "not an http(s) URL" in line, line


@pytest.fixture()
def cut_short() -> Iterator[str]:
    """A server that promises 100 bytes of JSON, sends four and hangs up (a proxy or API server restarting)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.recv(4096)
                connection.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"a"')

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    listener.close()


def test_an_answer_cut_short_is_one_plain_error(cut_short: str) -> None:
    result = runner.invoke(app, ["golive", "status", "--server", cut_short])
    lines = {line for line in result.output.splitlines() if line.strip()}
    assert result.exit_code == 1, result.output
    assert len(lines) == 1, lines
    line = lines.pop()
    assert line.startswith("error: ") and "Kubernetes API" in line and "unexpected" not in line, line
