"""Where migrated resources go: FHIR Bulk Data NDJSON files or a tenant's PostgreSQL schema.

Both targets are all-or-nothing. Rows are *staged* while the extract is read; only
:meth:`Target.commit`, called after the final manifest check, makes them visible, in one atomic step:

- ``ndjson:DIR`` — files are written to a fresh hidden sibling folder ``.DIR.<run>``; commit fsyncs
  them and atomically repoints the symlink ``DIR`` at it (``os.replace`` of a symlink), then removes
  older versions. A kill -9 at any moment leaves ``DIR`` pointing at either the old or the new set.
- ``postgresql://…`` — one transaction per run: an advisory lock per tenant, a staging table loaded
  with COPY, then (at commit) the staging table replaces ``kommune_<nr>.fhir_resource`` and gets its
  primary key and indexes. A kill -9 rolls the whole transaction back; readers see old or new.

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
    """`kommune_<nr>.fhir_resource` loaded with COPY in one transaction, swapped in at commit."""

    BUFFER_BYTES = 1 << 20

    def __init__(self, dsn: str, kommunenr: str) -> None:
        self.dsn = dsn
        self.schema = tenant_schema(kommunenr)
        self.kommunenr = kommunenr
        host = dsn.split("@")[-1].split("?")[0]  # never echo a password
        self.description = f"postgresql://…@{host} schema {self.schema}"
        self._conn: Any = None
        self._copy_cm: Any = None
        self._copy: Any = None
        self._buf = bytearray()
        self.rows = 0

    def open(self) -> None:
        import psycopg

        self._conn = psycopg.connect(self.dsn, autocommit=False)
        cur = self._conn.cursor()
        # One migration per tenant at a time; the lock ends with the transaction (or the killed session).
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"epj-migration-{self.schema}",))
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        cur.execute(f"DROP TABLE IF EXISTS {self.schema}.{STAGING}")
        cur.execute(
            f"CREATE TABLE {self.schema}.{STAGING} ({COLUMNS_DDL})"
        )
        from psycopg.copy import QueuedLibpqWriter

        # The queued writer sends to the server from a worker thread, so mapping (this thread) and the
        # server's JSONB parsing (another core) overlap.
        self._copy_cm = cur.copy(
            f"COPY {self.schema}.{STAGING} (id, resource_type, patient_id, resource, source) FROM STDIN",
            writer=QueuedLibpqWriter(cur),
        )
        self._copy = self._copy_cm.__enter__()

    def write(self, resource_type: str, rid: str, patient_id: str, data: bytes, source: str) -> None:
        buf = self._buf
        buf += f"{rid}\t{resource_type}\t{patient_id}\t".encode()
        buf += _copy_escape(data)
        buf += b"\t"
        buf += source.encode()
        buf += b"\n"
        self.rows += 1
        if len(buf) >= self.BUFFER_BYTES:
            self._copy.write(bytes(buf))
            buf.clear()

    def commit(self, reconciliation: bytes) -> None:
        if self._buf:
            self._copy.write(bytes(self._buf))
            self._buf.clear()
        self._copy_cm.__exit__(None, None, None)
        s = self.schema
        cur = self._conn.cursor()
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")  # index builds sort in memory
        cur.execute(f"DROP TABLE IF EXISTS {s}.{TABLE}")
        cur.execute(f"ALTER TABLE {s}.{STAGING} RENAME TO {TABLE}")
        cur.execute(f"ALTER TABLE {s}.{TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (resource_type, id)")
        cur.execute(f"CREATE INDEX {TABLE}_patient_idx ON {s}.{TABLE} (patient_id, resource_type)")
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {s}.migration_reconciliation "
            "(kommunenr text PRIMARY KEY, reconciliation jsonb NOT NULL)"
        )
        cur.execute(
            f"INSERT INTO {s}.migration_reconciliation VALUES (%s, %s::jsonb) "
            "ON CONFLICT (kommunenr) DO UPDATE SET reconciliation = EXCLUDED.reconciliation",
            (self.kommunenr, reconciliation.decode()),
        )
        self._conn.commit()
        self._conn.close()
        self._conn = None

    def abort(self) -> None:
        # Closing the session mid-transaction (even mid-COPY) makes the server roll everything back.
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def open_target(url: str | None, kommunenr: str, *, dry_run: bool) -> Target:
    """`ndjson:DIR` | `postgresql://…` | None/dry-run → a target (not yet opened)."""
    if dry_run or url is None:
        return NullTarget()
    if url.startswith("ndjson:"):
        return NdjsonTarget(Path(url.removeprefix("ndjson:")))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresTarget(url, kommunenr)
    raise ValueError("target must be ndjson:DIR or postgresql://… (got an unsupported scheme)")
