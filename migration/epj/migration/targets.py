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

import contextlib
import fcntl
import json
import os
import shutil
import struct
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Protocol

TABLE = "fhir_resource"
STAGING = "fhir_resource_staging"
_FRAME = struct.Struct("!I")  # the copy_loader's frame header (kept in step with copy_loader.HEADER)
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

    Why a loader process with two COPY sessions: PostgreSQL parses JSONB on one core per session and
    the machine has two. This process (reading, mapping, serialising: GIL-bound) only formats COPY
    text rows into ~128 KB chunks and writes them into a pipe; the child :mod:`epj.migration.copy_loader`
    feeds them to two COPY sessions, whichever is free. So this process never waits on a busy server
    session, and the server's parsing overlaps the mapping. (Earlier designs: this process writing to
    the two sessions itself stalled on full sockets; psycopg's threaded writer waited for the GIL behind
    the mapping thread.) The loader commits the staging table only when this process says so at
    :meth:`commit` (the staging table is committed only so that two sessions can load it); the *target*
    table changes only in the final swap transaction (drop old, rename staging, attach the primary key
    built beforehand). A killed run leaves the target as it was plus at most a stale staging table,
    which the next run drops first; a killed main process also ends the loader (end of its input, no
    commit). A session advisory lock keeps one run per tenant at a time.
    """

    BUFFER_BYTES = 120 * 1024  # flush threshold: frames stay under psycopg's largest unsplit chunk (128 KB)
    STREAMS = 2
    PIPE_BYTES = 1 << 20  # the pipe to the loader: lets this process run ahead a little

    def __init__(self, dsn: str, kommunenr: str) -> None:
        self.dsn = dsn
        self.schema = tenant_schema(kommunenr)
        self.kommunenr = kommunenr
        host = dsn.split("@")[-1].split("?")[0]  # never echo a password
        self.description = f"postgresql://…@{host} schema {self.schema}"
        self._main: Any = None
        self._loader: subprocess.Popen[bytes] | None = None
        self._pipe = -1
        self._buf = bytearray()
        self._encoded: dict[str, bytes] = {}  # resource types and source names: few, encode once
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
        self._loader = subprocess.Popen(
            [sys.executable, "-m", "epj.migration.copy_loader"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        assert self._loader.stdin is not None
        self._pipe = self._loader.stdin.fileno()
        with contextlib.suppress(OSError):  # a bigger pipe is an optimisation only
            fcntl.fcntl(self._pipe, getattr(fcntl, "F_SETPIPE_SZ", 1031), self.PIPE_BYTES)
        config = {
            "dsn": self.dsn,
            "copy_sql": f"COPY {s}.{STAGING} (id, resource_type, patient_id, resource, source) FROM STDIN",
            "streams": self.STREAMS,
        }
        self._send(json.dumps(config).encode())

    def _send(self, payload: bytes | bytearray) -> None:
        """One frame to the loader (length, payload); an empty payload means "finish and commit".

        ``writev`` sends header and payload without first joining them (no extra copy of ~1 GB).
        """
        header = _FRAME.pack(len(payload))
        try:
            sent = os.writev(self._pipe, [header, payload])
            total = len(header) + len(payload)
            if sent < total:  # a partial write (e.g. interrupted by a signal): send the rest
                rest = memoryview(header + bytes(payload))[sent:]
                while rest:
                    rest = rest[os.write(self._pipe, rest) :]
        except BrokenPipeError:
            raise RuntimeError(f"the COPY loader ended early: {self._loader_error()}") from None

    def _loader_error(self) -> str:
        loader = self._loader
        if loader is None:
            return "not running"
        try:
            _out, err = loader.communicate(timeout=30)
        except (subprocess.TimeoutExpired, ValueError):
            loader.kill()
            _out, err = loader.communicate()
        text = (err or b"").decode(errors="replace").strip().splitlines()
        return f"exit {loader.returncode}" + (f": {text[-1]}" if text else "")

    def _flush(self) -> None:
        if self._buf:
            self._send(self._buf)
            self._buf.clear()

    def write(self, resource_type: str, rid: str, patient_id: str, data: bytes, source: str) -> None:
        enc = self._encoded
        rtype_b = enc.get(resource_type) or enc.setdefault(resource_type, resource_type.encode())
        source_b = enc.get(source) or enc.setdefault(source, source.encode())
        buf = self._buf
        buf += b"%s\t%s\t%s\t%s\t%s\n" % (rid.encode(), rtype_b, patient_id.encode(), _copy_escape(data), source_b)
        self.rows += 1
        if len(buf) >= self.BUFFER_BYTES:
            self._flush()

    def _finish_load(self) -> None:
        """Tell the loader to commit the staging rows; raise unless it confirms."""
        self._flush()
        self._send(b"")
        loader = self._loader
        assert loader is not None
        out, err = loader.communicate()  # closes its input, waits for its "ok" and exit
        self._loader = None
        if loader.returncode != 0 or out.strip() != b"ok":
            last = (err or b"").decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"the COPY loader failed (exit {loader.returncode})" + (f": {last[-1]}" if last else ""))

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
        self._finish_load()
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
        # A loader that dies mid-COPY (no "commit" frame) makes the server roll its sessions back.
        loader, self._loader = self._loader, None
        if loader is not None:
            loader.kill()
            loader.communicate()
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
