"""The COPY loader: a child process that only moves COPY-ready bytes into PostgreSQL's staging table.

Why a separate process: the migration's main process is busy with GIL-bound work (reading, mapping,
serialising) and, when it also wrote to the COPY sockets itself, it stalled whenever a server session
was still parsing its backlog (JSONB parsing is server-bound, one core per session). Handing the bytes
to this process over a pipe lets the main process keep mapping while two COPY sessions here, each on
its own thread (they spend their time in socket waits, which release the GIL), take whichever chunk
is next. The queue between them is small and bounded, so memory stays flat.

Protocol on stdin (written by :class:`epj.migration.targets.PostgresTarget`): frames of a 4-byte
big-endian length and a payload. The first frame is a JSON config ``{"dsn", "copy_sql", "streams"}``
(the DSN travels here, never on the command line); then chunks of COPY text rows; then an empty frame,
which means "finish and commit". Only then are the sessions committed and ``ok`` printed on stdout.
End of input without that empty frame (the main process died, e.g. kill -9) exits without committing:
the server rolls the sessions back, and the staging table was never the target anyway.

Errors are reported by exception class and SQLSTATE only: a server message can quote row data.
"""

from __future__ import annotations

import os
import queue
import struct
import sys
import threading
from typing import Any, BinaryIO

HEADER = struct.Struct("!I")
QUEUE_CHUNKS = 8  # chunks of ~128 KB waiting for a free session: ~1 MB in flight at most


def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    data = stream.read(n)
    if data is None or len(data) < n:
        return None
    return data


def _read_frame(stream: BinaryIO) -> bytes | None:
    """The next payload; None at end of input (a truncated frame counts as end of input)."""
    header = _read_exact(stream, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size == 0:
        return b""
    return _read_exact(stream, size)


def _fail(what: str, exc: BaseException) -> None:
    """Report without personal data and end the process at once (sessions roll back on disconnect)."""
    sqlstate = getattr(exc, "sqlstate", None)
    sys.stderr.write(f"copy loader: {what} failed: {type(exc).__name__}{f' SQLSTATE {sqlstate}' if sqlstate else ''}\n")
    sys.stderr.flush()
    os._exit(3)


def _worker(conn: Any, copy_sql: str, chunks: queue.Queue[bytes | None]) -> None:
    try:
        with conn.cursor().copy(copy_sql) as copy:
            while (chunk := chunks.get()) is not None:
                copy.write(chunk)
    except BaseException as exc:  # any failure ends the process without commit
        _fail("COPY", exc)


def main() -> int:
    """Run the loader on stdin/stdout; exit status 0 only after every session committed."""
    import orjson
    import psycopg

    stdin = os.fdopen(0, "rb", buffering=1 << 20, closefd=False)
    config_frame = _read_frame(stdin)
    if not config_frame:
        return 1
    config = orjson.loads(config_frame)
    try:
        conns = [psycopg.connect(config["dsn"], autocommit=False) for _ in range(int(config["streams"]))]
    except BaseException as exc:
        _fail("connect", exc)
        return 3
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
    workers = [threading.Thread(target=_worker, args=(c, config["copy_sql"], chunks), daemon=True) for c in conns]
    for worker in workers:
        worker.start()
    while True:
        frame = _read_frame(stdin)
        if frame is None:  # the main process is gone or gave up: no commit
            os._exit(1)
        if not frame:
            break
        chunks.put(frame)
    for _ in workers:
        chunks.put(None)
    for worker in workers:
        worker.join()
    try:
        for conn in conns:
            conn.commit()
            conn.close()
    except BaseException as exc:
        _fail("commit", exc)
    sys.stdout.write("ok\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
