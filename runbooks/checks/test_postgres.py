"""PostgreSQL is up: listening on its port and answering queries."""

from __future__ import annotations

from typing import Any


def test_postgresql_listening(host: Any, pg: Any) -> None:
    if pg.host in ("127.0.0.1", "localhost"):
        assert host.socket(f"tcp://127.0.0.1:{pg.port}").is_listening, f"nothing listens on 127.0.0.1:{pg.port}"
    else:
        ready = host.run(pg.client("pg_isready", "-t", "5"))
        assert ready.rc == 0, f"PostgreSQL {pg.host}:{pg.port} is not accepting connections: {ready.stdout.strip()}"


def test_database_answers(host: Any, pg: Any) -> None:
    result = host.run(pg.psql("-c", "SELECT 1"))
    assert result.rc == 0, f"database {pg.database} on {pg.host}:{pg.port} does not answer: {result.stderr.strip()}"
    assert result.stdout.strip() == "1"


def test_database_is_writable_primary(host: Any, pg: Any) -> None:
    result = host.run(pg.psql("-c", "SELECT pg_is_in_recovery()"))
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "f", f"{pg.host}:{pg.port} is a read-only standby, not the primary"
