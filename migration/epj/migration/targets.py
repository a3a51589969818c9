"""Where migrated resources go: FHIR Bulk Data NDJSON files or a tenant's PostgreSQL schema.

Both targets are all-or-nothing. Rows are *staged* while the extract is read; only
:meth:`Target.commit`, called after the final manifest check, makes them visible, in one atomic step:

- ``ndjson:DIR`` — files are written to a fresh hidden sibling folder ``.DIR.<run>``; commit fsyncs
  them and atomically repoints the symlink ``DIR`` at it (``os.replace`` of a symlink), then removes
  older versions. A kill -9 at any moment leaves ``DIR`` pointing at either the old or the new set.
- ``postgresql://…`` — rows are COPYed into a staging table (two sessions, both cores); at commit the
  primary key and patient index are built on it, then one short transaction drops the old
  ``kommune_<nr>.fhir_resource`` and renames the staging table in its place. A kill -9 at any moment
  leaves the old table untouched; the next run drops the stale staging table first.

Ids are stable and rows come in a deterministic order, so a rerun of the same extract produces the
identical target.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Protocol

TABLE = "fhir_resource"
STAGING = "fhir_resource_staging"
# Ids are ASCII (UUIDs, resource type names): the "C" collation sorts them bytewise, which makes the
# primary-key and patient index builds several times faster than a linguistic collation would.
COLUMNS_DDL = (
    'id text COLLATE "C" NOT NULL, resource_type text COLLATE "C" NOT NULL, '
    'patient_id text COLLATE "C", resource jsonb NOT NULL, source text NOT NULL'
)


class Target(Protocol):
    """A place rows are staged into and committed or discarded as a whole."""

    description: str

    def open(self) -> None: ...

    def write(self, resource_type: str, rid: str, patient_id: str, data: bytes, source: str) -> None: ...

    def commit(self, reconciliation: bytes) -> None: ...

    def abort(self) -> None: ...


class NullTarget:
    """`--dry-run`: read, map, validate, reconcile; write nothing."""

    description = "dry-run (nothing written)"

    def open(self) -> None:
        return None

    def write(self, resource_type: str, rid: str, patient_id: str, data: bytes, source: str) -> None:
        return None

    def commit(self, reconciliation: bytes) -> None:
        return None

    def abort(self) -> None:
        return None


class NdjsonTarget:
    """FHIR Bulk Data NDJSON: one `<ResourceType>.ndjson` per type, swapped in atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.absolute()
        self.description = f"ndjson:{self.directory}"
        self._stage: Path | None = None
        self._files: dict[str, Any] = {}

    def _version_prefix(self) -> str:
        return f".{self.directory.name}."

    def open(self) -> None:
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        if self.directory.exists() and not self.directory.is_symlink():
            if any(self.directory.iterdir()):
                raise FileExistsError(
                    f"{self.directory} exists and is not a migration target (expected a symlink or nothing)"
                )
            self.directory.rmdir()
        self._stage = self.directory.parent / f"{self._version_prefix()}{uuid.uuid4().hex[:12]}.partial"
        self._stage.mkdir()

    def write(self, resource_type: str, rid: str, patient_id: str, data: bytes, source: str) -> None:
        handle = self._files.get(resource_type)
        if handle is None:
            assert self._stage is not None
            handle = self._files[resource_type] = (self._stage / f"{resource_type}.ndjson").open(
                "wb", buffering=1 << 20
            )
        handle.write(data)
        handle.write(b"\n")

    def commit(self, reconciliation: bytes) -> None:
        assert self._stage is not None
        for handle in self._files.values():
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        self._files.clear()
        final = self._stage.with_suffix("")  # drop ".partial": this version is complete
        self._stage.rename(final)
        link = self.directory.parent / f".{self.directory.name}.link-{uuid.uuid4().hex[:8]}"
        link.symlink_to(final.name)
        dir_fd = os.open(self.directory.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
            os.replace(link, self.directory)  # the atomic step
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._stage = None
        self._cleanup(keep=final.name)

    def _cleanup(self, keep: str) -> None:
        """Remove older versions and leftovers of killed runs (never the one the link points at)."""
        prefix = self._version_prefix()
        for entry in self.directory.parent.iterdir():
            if entry.name.startswith(prefix) and entry.name != keep:
                if entry.is_symlink() or entry.is_file():
                    entry.unlink(missing_ok=True)
                else:
                    shutil.rmtree(entry, ignore_errors=True)

    def abort(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        if self._stage is not None:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None


def tenant_schema(kommunenr: str) -> str:
    """`kommune_<nr>`: one schema per tenant (kommunenr is 4 digits, checked before use)."""
    if len(kommunenr) != 4 or not kommunenr.isdigit():
        raise ValueError("kommunenr must be 4 digits")
    return f"kommune_{kommunenr}"


def _copy_escape(data: bytes) -> bytes:
    # COPY text format: backslash is the escape character. orjson never emits raw tab/newline/CR.
    return data.replace(b"\\", b"\\\\")


class PostgresTarget:
    """`kommune_<nr>.fhir_resource`, loaded with COPY into a staging table and swapped in atomically.

    Why two COPY sessions: PostgreSQL parses JSONB on one core per session, and the machine has two;
    rows alternate between two sessions (128 KB at a time) so both cores share the parsing while this
    process maps; the sockets' buffers let a session keep parsing while this process fills the other.
    (psycopg's threaded "queued" writer was tried and gained nothing measurable: its sender threads
    wait for the GIL behind the mapping thread.) The staging table is committed only so that both sessions can load
    it; the *target* table changes only in the final swap transaction (drop old, rename staging, attach
    the primary key built beforehand). A killed run leaves the target as it was plus a stale staging
    table, which the next run drops first. A session advisory lock keeps one run per tenant at a time.
    """

    BUFFER_BYTES = 128 * 1024  # psycopg's largest unsplit chunk: bigger writes are split (copied)
    STREAMS = 2

    def __init__(self, dsn: str, kommunenr: str) -> None:
        self.dsn = dsn
        self.schema = tenant_schema(kommunenr)
        self.kommunenr = kommunenr
        host = dsn.split("@")[-1].split("?")[0]  # never echo a password
        self.description = f"postgresql://…@{host} schema {self.schema}"
        self._main: Any = None
        self._streams: list[tuple[Any, Any, Any]] = []  # (connection, copy context manager, copy)
        self._next = 0
        self._buf = bytearray()
        self.rows = 0

    def _connect(self, *, autocommit: bool) -> Any:
        import psycopg

        return psycopg.connect(self.dsn, autocommit=autocommit)

    def open(self) -> None:
        s = self.schema
        self._main = self._connect(autocommit=True)
        self._main.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"epj-migration-{s}",))
        self._main.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
        self._main.execute(f"DROP TABLE IF EXISTS {s}.{STAGING}")  # leftovers of a killed run
        self._main.execute(f"CREATE TABLE {s}.{STAGING} ({COLUMNS_DDL})")
        for _ in range(self.STREAMS):
            conn = self._connect(autocommit=False)
            cur = conn.cursor()
            cm = cur.copy(f"COPY {s}.{STAGING} (id, resource_type, patient_id, resource, source) FROM STDIN")
            self._streams.append((conn, cm, cm.__enter__()))

    def _flush(self) -> None:
        if self._buf:
            self._streams[self._next][2].write(bytes(self._buf))
            self._next = (self._next + 1) % len(self._streams)
            self._buf.clear()

    def write(self, resource_type: str, rid: str, patient_id: str, data: bytes, source: str) -> None:
        buf = self._buf
        buf += f"{rid}\t{resource_type}\t{patient_id}\t".encode()
        buf += _copy_escape(data)
        buf += b"\t"
        buf += source.encode()
        buf += b"\n"
        self.rows += 1
        if len(buf) >= self.BUFFER_BYTES:
            self._flush()

    def _build_indexes(self) -> None:
        """Primary-key index and patient index, built at the same time on two sessions."""
        import threading

        s = self.schema
        statements = [
            f"CREATE UNIQUE INDEX {STAGING}_pk ON {s}.{STAGING} (resource_type, id)",
            f"CREATE INDEX {STAGING}_patient ON {s}.{STAGING} (patient_id)",
        ]
        errors: list[BaseException] = []

        def build(sql: str) -> None:
            try:
                with self._connect(autocommit=True) as conn:
                    conn.execute("SET maintenance_work_mem = '256MB'")
                    conn.execute(sql)
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=build, args=(sql,)) for sql in statements]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def commit(self, reconciliation: bytes) -> None:
        self._flush()
        for conn, cm, _copy in self._streams:
            cm.__exit__(None, None, None)
            conn.commit()
            conn.close()
        self._streams.clear()
        self._build_indexes()
        s = self.schema
        with self._main.transaction():
            self._main.execute(f"DROP TABLE IF EXISTS {s}.{TABLE}")
            self._main.execute(f"ALTER TABLE {s}.{STAGING} RENAME TO {TABLE}")
            self._main.execute(
                f"ALTER TABLE {s}.{TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY USING INDEX {STAGING}_pk"
            )
            self._main.execute(f"ALTER INDEX {s}.{STAGING}_patient RENAME TO {TABLE}_patient_idx")
            self._main.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.migration_reconciliation "
                "(kommunenr text PRIMARY KEY, reconciliation jsonb NOT NULL)"
            )
            self._main.execute(
                f"INSERT INTO {s}.migration_reconciliation VALUES (%s, %s::jsonb) "
                "ON CONFLICT (kommunenr) DO UPDATE SET reconciliation = EXCLUDED.reconciliation",
                (self.kommunenr, reconciliation.decode()),
            )
        self._main.close()  # also releases the advisory lock
        self._main = None

    def abort(self) -> None:
        # Closing a session mid-transaction (even mid-COPY) makes the server roll it back.
        for conn, _cm, _copy in self._streams:
            conn.close()
        self._streams.clear()
        if self._main is not None:
            try:
                self._main.execute(f"DROP TABLE IF EXISTS {self.schema}.{STAGING}")
            finally:
                self._main.close()
                self._main = None


def open_target(url: str | None, kommunenr: str, *, dry_run: bool) -> Target:
    """`ndjson:DIR` | `postgresql://…` | None/dry-run → a target (not yet opened)."""
    if dry_run or url is None:
        return NullTarget()
    if url.startswith("ndjson:"):
        return NdjsonTarget(Path(url.removeprefix("ndjson:")))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresTarget(url, kommunenr)
    raise ValueError("target must be ndjson:DIR or postgresql://… (got an unsupported scheme)")
