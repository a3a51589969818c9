"""The tenant store's own records: which migration runs loaded it, and the go-live seal (issue 12).

A tenant's store is the schema ``kommune_<nr>`` in its PostgreSQL. Next to ``fhir_resource`` the
migration keeps two small tables there, so the answers live with the data they are about (not in a
laptop's state file or an operator's memory):

- ``migration_run`` — one row per migration run into this store: run id, when it started, its state
  (``running`` → ``published`` | ``aborted`` | ``interrupted``), when it finished, how many resources it
  published and which earlier run's rows it replaced. A second run reads it to say which run it waits
  for; a re-run reads it to say what it replaces.
- ``migration_seal`` — written once, when the tenant goes live (GoLive Cutover → Live): when, by whom
  (the operator's go-live, the rehearsal, a person with ``epj migrate seal``) and which migration run's
  rows went live. From then on every migration run into the store is refused before it writes anything
  (:data:`TENANT_LIVE`): after go-live the store holds clinical data that only the EPJ may change.

Why a seal in the database and not a phase check in the callers: a run can be started from shell
history, a re-created Job or a rehearsal pointed at the wrong DSN; only a record in the store itself
stops all of them. One PostgreSQL session advisory lock per tenant serialises runs and the seal (a
seal waits for a running migration, and a run that waited re-checks the seal).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from epj.contract import ENV_MIGRATION_RUN
from epj.migration.readers import ExtractError

SEAL_TABLE: Final = "migration_seal"
RUN_TABLE: Final = "migration_run"
#: Reason code of a run refused because its tenant has gone live (exit 2, nothing written).
TENANT_LIVE: Final = "TENANT_LIVE"
#: Environment variable naming the run (the operator's Job sets it to the Job's name).
RUN_ENV: Final = ENV_MIGRATION_RUN

Notice = Callable[[str], None]

_RUN_DDL = (
    "run_id text PRIMARY KEY, started_at timestamptz NOT NULL, state text NOT NULL, "
    "finished_at timestamptz, resources bigint, replaced_run text"
)
_SEAL_DDL = (
    "kommunenr text PRIMARY KEY, sealed_at timestamptz NOT NULL, sealed_by text NOT NULL, "
    "live_run text, live_run_published_at timestamptz"
)


def stamp(at: dt.datetime | None) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else "unknown time"


@dataclass(frozen=True)
class Seal:
    """The go-live record of one tenant's store."""

    kommunenr: str
    sealed_at: dt.datetime
    sealed_by: str
    live_run: str | None
    live_run_published_at: dt.datetime | None

    def describe(self) -> str:
        loaded = (
            f"; its data was loaded by migration run {self.live_run} at {stamp(self.live_run_published_at)}"
            if self.live_run
            else ""
        )
        return f"kommune {self.kommunenr} went live at {stamp(self.sealed_at)} (sealed by {self.sealed_by}){loaded}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kommunenr": self.kommunenr,
            "sealed_at": self.sealed_at.astimezone(dt.UTC).isoformat(),
            "sealed_by": self.sealed_by,
            "live_run": self.live_run,
            "live_run_published_at": (
                self.live_run_published_at.astimezone(dt.UTC).isoformat() if self.live_run_published_at else None
            ),
        }


@dataclass(frozen=True)
class RunRecord:
    """One row of ``migration_run``."""

    run_id: str
    started_at: dt.datetime
    state: str
    finished_at: dt.datetime | None
    resources: int | None


def new_run_id(kommunenr: str) -> str:
    """The run's name: ``$EPJ_MIGRATION_RUN`` (the operator's Job name) or ``<nr>-<UTC time>-<random>``."""
    given = os.environ.get(RUN_ENV, "").strip()
    if given:
        return given[:100]
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{kommunenr}-{now}-{secrets.token_hex(2)}"


def lock_key(schema: str) -> str:
    """The advisory-lock key serialising migration runs and the seal of one tenant's store."""
    return f"epj-migration-{schema}"


def refused(seal: Seal) -> ExtractError:
    """The error a run into a sealed store raises (before it writes anything)."""
    return ExtractError(
        TENANT_LIVE,
        f"{seal.describe()}. Its store is sealed: migration runs into it are refused and nothing was written. "
        "Live data is changed only through the EPJ itself; if this run was meant for a rehearsal, "
        "point --target at a rehearsal database instead.",
    )


def _exists(conn: Any, schema: str, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (f"{schema}.{table}",)).fetchone()
    return row is not None and row[0] is not None


def read_seal(conn: Any, schema: str) -> Seal | None:
    """The tenant's seal, or None (read-only: creates nothing)."""
    if not _exists(conn, schema, SEAL_TABLE):
        return None
    row = conn.execute(
        f"SELECT kommunenr, sealed_at, sealed_by, live_run, live_run_published_at FROM {schema}.{SEAL_TABLE} "
        "ORDER BY sealed_at LIMIT 1"
    ).fetchone()
    return Seal(*row) if row is not None else None


def running_run(conn: Any, schema: str) -> RunRecord | None:
    """The newest run recorded as running (the one holding the tenant's lock, if any)."""
    if not _exists(conn, schema, RUN_TABLE):
        return None
    row = conn.execute(
        f"SELECT run_id, started_at, state, finished_at, resources FROM {schema}.{RUN_TABLE} "
        "WHERE state = 'running' ORDER BY started_at DESC LIMIT 1"
    ).fetchone()
    return RunRecord(*row) if row is not None else None


def last_published(conn: Any, schema: str) -> RunRecord | None:
    """The run whose rows the store holds now (the newest published run), if any."""
    if not _exists(conn, schema, RUN_TABLE):
        return None
    row = conn.execute(
        f"SELECT run_id, started_at, state, finished_at, resources FROM {schema}.{RUN_TABLE} "
        "WHERE state = 'published' ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    return RunRecord(*row) if row is not None else None


def migrated_counts(conn: Any, schema: str) -> dict[str, int]:
    """Resources per type that migration runs wrote into ``fhir_resource`` (what a reconciliation counts).

    Rows others wrote (``migrated = false``) are not the migration's and are left out, so a smoke check
    compares like with like; a store loaded before rows were marked counts every row.
    """
    marked = conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND table_name = 'fhir_resource' "
        "AND column_name = 'migrated'",
        (schema,),
    ).fetchone()
    where = " WHERE migrated" if marked else ""
    rows = conn.execute(f"SELECT resource_type, count(*) FROM {schema}.fhir_resource{where} GROUP BY 1").fetchall()
    return {str(kind): int(n) for kind, n in rows}


def acquire(conn: Any, schema: str, notice: Notice | None, *, who: str) -> None:
    """Take the tenant's advisory lock; when another run holds it, say which one before waiting."""
    key = lock_key(schema)
    row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
    if row is not None and row[0]:
        return
    holder = running_run(conn, schema)
    if notice is not None:
        if holder is not None:
            notice(
                f"{who} waits for migration run {holder.run_id} (started {stamp(holder.started_at)}) "
                f"to finish with kommune {schema.removeprefix('kommune_')}"
            )
        else:
            notice(f"{who} waits: another session holds kommune {schema.removeprefix('kommune_')}'s migration lock")
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))


def start_run(conn: Any, schema: str, run_id: str) -> str:
    """Record this run as running (committed at once: a waiting run reads it). Call with the lock held.

    Rows still ``running`` belong to runs that died (the lock is ours now): they become ``interrupted``.
    A run name already recorded as ``published`` (a Job's pod retried under the Job's name) is kept:
    this attempt is recorded as ``<name>.2``, ``.3``, … so the ledger (and the seal read from it) still
    names the run whose rows the store holds. Returns the name this attempt is recorded under.
    """
    conn.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{RUN_TABLE} ({_RUN_DDL})")
    conn.execute(f"UPDATE {schema}.{RUN_TABLE} SET state = 'interrupted' WHERE state = 'running'")
    name, attempt = run_id, 1
    while (
        conn.execute(
            f"SELECT 1 FROM {schema}.{RUN_TABLE} WHERE run_id = %s AND state = 'published'", (name,)
        ).fetchone()
        is not None
    ):
        attempt += 1
        name = f"{run_id}.{attempt}"
    run_id = name
    conn.execute(
        f"INSERT INTO {schema}.{RUN_TABLE} (run_id, started_at, state) VALUES (%s, now(), 'running') "
        "ON CONFLICT (run_id) DO UPDATE SET started_at = now(), state = 'running', finished_at = NULL, "
        "resources = NULL, replaced_run = NULL",
        (run_id,),
    )
    return run_id


def finish_run(
    conn: Any, schema: str, run_id: str, state: str, *, resources: int | None = None, replaced: str | None = None
) -> None:
    """Record how the run ended (inside the publish transaction for ``published``)."""
    conn.execute(
        f"UPDATE {schema}.{RUN_TABLE} SET state = %s, finished_at = now(), resources = %s, replaced_run = %s "
        "WHERE run_id = %s",
        (state, resources, replaced, run_id),
    )


def seal_tenant(dsn: str, kommunenr: str, *, sealed_by: str, notice: Notice | None = None) -> tuple[Seal, bool]:
    """Seal ``kommunenr``'s store at go-live; returns (the seal, whether this call created it).

    Idempotent: a store already sealed keeps its first record (the go-live happens once). Waits for a
    migration run in progress (and says which); records which run's rows went live.
    """
    import psycopg

    from epj.migration.targets import tenant_schema

    schema = tenant_schema(kommunenr)
    with psycopg.connect(dsn, autocommit=True) as conn:
        existing = read_seal(conn, schema)
        if existing is not None:
            return existing, False
        acquire(conn, schema, notice, who="the seal")
        try:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            conn.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{SEAL_TABLE} ({_SEAL_DDL})")
            live = last_published(conn, schema)
            conn.execute(
                f"INSERT INTO {schema}.{SEAL_TABLE} VALUES (%s, now(), %s, %s, %s) ON CONFLICT (kommunenr) DO NOTHING",
                (kommunenr, sealed_by, live.run_id if live else None, live.finished_at if live else None),
            )
            seal = read_seal(conn, schema)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock_key(schema),))
    assert seal is not None
    return seal, True
