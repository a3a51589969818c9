"""Where migrated resources go: FHIR Bulk Data NDJSON files or a tenant's PostgreSQL store.

Both targets are all-or-nothing. Rows are *staged* while the extract is read; only
:meth:`Target.commit`, called after the final manifest check, makes them visible, in one atomic step:

- ``ndjson:DIR`` — files are written to a fresh hidden sibling folder ``.DIR.<run>``; commit fsyncs
  them and atomically repoints the symlink ``DIR`` at it (``os.replace`` of a symlink), then removes
  older versions. A kill -9 at any moment leaves ``DIR`` pointing at either the old or the new set.
  (An NDJSON folder is an export, not a tenant's store: it has no go-live seal.)
- ``postgresql://…`` — the tenant's store, schema ``kommune_<nr>``. Rows are COPYed into a staging
  table (two sessions, both cores) and indexed. ``fhir_resource`` is partitioned by ``migrated``:
  ``fhir_resource_migrated`` (rows migration runs wrote) and ``fhir_resource_others`` (rows anyone else
  writes: the column defaults to false). At commit one transaction *publishes*: it detaches and drops the
  migrated partition and attaches the staging table in its place — metadata only, so a re-run costs no
  more than a first load. Rows others wrote and every other table are never touched; ``fhir_resource``
  itself is never dropped. (A plain ``fhir_resource`` from before partitions is published row by row:
  delete what migrations wrote, insert the staged rows.) A store whose tenant has gone live is sealed
  (:mod:`epj.migration.store`): the run is refused at :meth:`open`, before it writes anything. A kill -9
  at any moment leaves the store as it was; the next run drops the stale staging table first.

Ids are stable and rows come in a deterministic order, so a rerun of the same extract produces the
identical store.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Protocol

from epj.migration import store
from epj.migration.readers import ExtractError

TABLE = "fhir_resource"
STAGING = "fhir_resource_staging"
_FRAME = struct.Struct("!I")  # the copy_loader's frame header (kept in step with copy_loader.HEADER)
# Ids are ASCII (UUIDs, resource type names): the "C" collation sorts them bytewise, which makes the
# primary-key and patient index builds several times faster than a linguistic collation would.
COLUMNS_DDL = (
    'id text COLLATE "C" NOT NULL, resource_type text COLLATE "C" NOT NULL, '
    'patient_id text COLLATE "C", resource jsonb NOT NULL, source text NOT NULL'
)
#: Marks the rows a migration run wrote: a re-run before go-live replaces exactly these. Others' rows
#: get the column's default (false) and are never touched.
MIGRATED = "migrated"
MIGRATED_PART = f"{TABLE}_migrated"  # the partition of rows migration runs wrote (migrated = true)
OTHERS = f"{TABLE}_others"  # the partition of rows others wrote (migrated = false); never changed here


class Target(Protocol):
    """A place rows are staged into and committed or discarded as a whole."""

    description: str
    #: After :meth:`commit`: what the publish replaced (a sentence for the console), if anything.
    replaced: str | None

    def open(self) -> None: ...

    def write(self, resource_type: str, rid: str, patient_id: str, data: bytes, source: str) -> None: ...

    def commit(self, reconciliation: bytes) -> None: ...

    def abort(self) -> None: ...


class NullTarget:
    """`--dry-run`: read, map, validate, reconcile; write nothing."""

    description = "dry-run (nothing written)"
    replaced: str | None = None

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
        self.replaced: str | None = None
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
    """The tenant's store ``kommune_<nr>``: COPY into a staging table, then publish in one transaction.

    Why a loader process with two COPY sessions: PostgreSQL parses JSONB on one core per session and
    the machine has two. This process (reading, mapping, serialising: GIL-bound) only formats COPY
    text rows into ~128 KB chunks and writes them into a pipe; the child :mod:`epj.migration.copy_loader`
    feeds them to two COPY sessions, whichever is free. So this process never waits on a busy server
    session, and the server's parsing overlaps the mapping. (Earlier designs: this process writing to
    the two sessions itself stalled on full sockets; psycopg's threaded writer waited for the GIL behind
    the mapping thread.) The loader commits the staging table only when this process says so at
    :meth:`commit` (the staging table is committed only so that two sessions can load it); the store
    changes only in the publish transaction. A killed run leaves the store as it was plus at most a stale
    staging table, which the next run drops first; a killed main process also ends the loader (end of its
    input, no commit).

    :meth:`open` first reads the seal (read-only: a sealed store is refused before anything is written),
    then takes the tenant's advisory lock (saying which run it waits for), re-reads the seal, and records
    the run in ``migration_run``.
    """

    BUFFER_BYTES = 120 * 1024  # flush threshold: frames stay under psycopg's largest unsplit chunk (128 KB)
    STREAMS = 2
    PIPE_BYTES = 1 << 20  # the pipe to the loader: lets this process run ahead a little

    def __init__(
        self, dsn: str, kommunenr: str, *, run_id: str | None = None, notice: store.Notice | None = None
    ) -> None:
        self.dsn = dsn
        self.schema = tenant_schema(kommunenr)
        self.kommunenr = kommunenr
        self.run_id = run_id or store.new_run_id(kommunenr)
        self.notice = notice
        self.description = f"postgresql://…@{dsn_host(dsn)} schema {self.schema}"  # never echo a password
        self.replaced: str | None = None
        self._previous: store.RunRecord | None = None
        self._started = False
        self._main: Any = None
        self._loader: subprocess.Popen[bytes] | None = None
        self._pipe = -1
        self._buf = bytearray()
        self._encoded: dict[str, bytes] = {}  # resource types and source names: few, encode once
        self.rows = 0

    def _connect(self, *, autocommit: bool) -> Any:
        import psycopg

        return psycopg.connect(self.dsn, autocommit=autocommit)

    def _say(self, message: str) -> None:
        if self.notice is not None:
            self.notice(message)

    def open(self) -> None:
        s = self.schema
        self._main = self._connect(autocommit=True)
        seal = store.read_seal(self._main, s)  # before the lock: a sealed store is refused at once
        if seal is None:
            store.acquire(self._main, s, self.notice, who=f"migration run {self.run_id}")
            seal = store.read_seal(self._main, s)  # sealed while this run waited?
        if seal is not None:
            raise store.refused(seal)
        self._main.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
        self.run_id = store.start_run(self._main, s, self.run_id)
        self._started = True
        self._previous = store.last_published(self._main, s)
        if self._previous is not None:
            prev = self._previous
            self._say(
                f"kommune {self.kommunenr} has not gone live: this run ({self.run_id}) will replace the "
                f"{prev.resources or 0} resources migration run {prev.run_id} loaded at "
                f"{store.stamp(prev.finished_at)}; rows written by others stay"
            )
        self._main.execute(f"DROP TABLE IF EXISTS {s}.{STAGING}")  # leftovers of a killed run
        self._main.execute(
            f"CREATE TABLE {s}.{STAGING} ({COLUMNS_DDL}, {MIGRATED} boolean NOT NULL DEFAULT true CHECK ({MIGRATED}))"
        )
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
            f"CREATE UNIQUE INDEX {STAGING}_pk ON {s}.{STAGING} (resource_type, id, {MIGRATED})",
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

    def _exists(self, table: str) -> bool:
        row = self._main.execute("SELECT to_regclass(%s)", (f"{self.schema}.{table}",)).fetchone()
        return row is not None and row[0] is not None

    def commit(self, reconciliation: bytes) -> None:
        """Publish the staged rows: the one step that changes the store (see the module docstring)."""
        import psycopg

        self._finish_load()
        s, main = self.schema, self._main
        layout = self._layout()
        if layout != "plain":
            self._build_indexes()  # the staging table becomes the migrated partition, indexed
        try:
            with main.transaction():
                seal = store.read_seal(main, s)
                if seal is not None:  # sealed by hand despite the lock: still refuse
                    raise store.refused(seal)
                if layout == "none":
                    self._create_store()
                if layout == "plain":
                    self._replace_migrated_rows()  # a store from before partitions: row by row
                else:
                    self._swap_migrated_partition()
                main.execute(
                    f"CREATE TABLE IF NOT EXISTS {s}.migration_reconciliation "
                    "(kommunenr text PRIMARY KEY, reconciliation jsonb NOT NULL)"
                )
                main.execute(
                    f"INSERT INTO {s}.migration_reconciliation VALUES (%s, %s::jsonb) "
                    "ON CONFLICT (kommunenr) DO UPDATE SET reconciliation = EXCLUDED.reconciliation",
                    (self.kommunenr, reconciliation.decode()),
                )
                prev = self._previous
                store.finish_run(
                    main, s, self.run_id, "published", resources=self.rows, replaced=prev.run_id if prev else None
                )
        except psycopg.errors.UniqueViolation:
            raise self._conflict() from None
        if self._previous is not None:
            prev = self._previous
            self.replaced = (
                f"replaced the {prev.resources or 0} resources migration run {prev.run_id} loaded at "
                f"{store.stamp(prev.finished_at)}"
            )
        main.close()  # also releases the advisory lock
        self._main = None

    def _conflict(self) -> ExtractError:
        return ExtractError(
            "ID_CONFLICT",
            f"{self.schema}.{TABLE} holds a row written by someone else (not by a migration) with the id of a "
            "migrated resource; nothing was published. Find it with: SELECT resource_type, id FROM "
            f"{self.schema}.{TABLE} WHERE NOT {MIGRATED}",
        )

    def _layout(self) -> str:
        """``none`` (no store yet), ``partitioned`` (this module's layout) or ``plain`` (an older store)."""
        row = self._main.execute(
            "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            (self.schema, TABLE),
        ).fetchone()
        if row is None:
            return "none"
        return "partitioned" if row[0] in ("p", b"p") else "plain"

    def _create_store(self) -> None:
        """First load: ``fhir_resource`` partitioned by ``migrated``; others' rows get a partition of their own.

        Why partitions: a re-run then publishes by exchanging the migrated partition (metadata, in one
        transaction) instead of deleting and inserting a million rows, and rows others write (default
        ``migrated = false``) live in a partition the migration never changes.
        """
        s = self.schema
        self._main.execute(
            f"CREATE TABLE {s}.{TABLE} ({COLUMNS_DDL}, {MIGRATED} boolean NOT NULL DEFAULT false, "
            f"CONSTRAINT {TABLE}_pkey PRIMARY KEY (resource_type, id, {MIGRATED})) PARTITION BY LIST ({MIGRATED})"
        )
        self._main.execute(f"CREATE INDEX {TABLE}_patient_idx ON {s}.{TABLE} (patient_id)")
        self._main.execute(f"CREATE TABLE {s}.{OTHERS} PARTITION OF {s}.{TABLE} FOR VALUES IN (false)")

    def _swap_migrated_partition(self) -> None:
        """Detach and drop the partition earlier migration runs wrote; attach the staged rows in its place."""
        s, main = self.schema, self._main
        clash = main.execute(
            f"SELECT 1 FROM {s}.{TABLE} o JOIN {s}.{STAGING} n USING (resource_type, id) WHERE NOT o.{MIGRATED} LIMIT 1"
        ).fetchone()
        if clash is not None:
            raise self._conflict()
        attached = main.execute(
            "SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
            (s, MIGRATED_PART),
        ).fetchone()
        if attached is not None:
            main.execute(f"ALTER TABLE {s}.{TABLE} DETACH PARTITION {s}.{MIGRATED_PART}")
        main.execute(f"DROP TABLE IF EXISTS {s}.{MIGRATED_PART}")  # only rows migrations wrote
        main.execute(f"ALTER TABLE {s}.{STAGING} RENAME TO {MIGRATED_PART}")
        main.execute(f"ALTER INDEX {s}.{STAGING}_pk RENAME TO {MIGRATED_PART}_pkey")
        main.execute(f"ALTER INDEX {s}.{STAGING}_patient RENAME TO {MIGRATED_PART}_patient_id_idx")
        main.execute(f"ALTER TABLE {s}.{TABLE} ATTACH PARTITION {s}.{MIGRATED_PART} FOR VALUES IN (true)")

    def _replace_migrated_rows(self) -> None:
        """Delete what earlier migration runs wrote, insert what this run staged; others' rows stay."""
        s, main = self.schema, self._main
        row = main.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND table_name = %s AND column_name = %s",
            (s, TABLE, MIGRATED),
        ).fetchone()
        if row is None:  # a store loaded before rows were marked: its extract-sourced rows are the migration's
            main.execute(f"ALTER TABLE {s}.{TABLE} ADD COLUMN {MIGRATED} boolean NOT NULL DEFAULT false")
            main.execute(
                f"UPDATE {s}.{TABLE} SET {MIGRATED} = true WHERE source LIKE 'profil/%%' OR source LIKE 'cgm/%%'"
            )
        # Readers keep reading the old rows until this transaction commits; writers wait for it.
        main.execute(f"LOCK TABLE {s}.{TABLE} IN EXCLUSIVE MODE")
        main.execute(f"DELETE FROM {s}.{TABLE} WHERE {MIGRATED}")
        cols = f"id, resource_type, patient_id, resource, source, {MIGRATED}"
        main.execute(f"INSERT INTO {s}.{TABLE} ({cols}) SELECT {cols} FROM {s}.{STAGING}")
        main.execute(f"DROP TABLE {s}.{STAGING}")

    def abort(self) -> None:
        # A loader that dies mid-COPY (no "commit" frame) makes the server roll its sessions back.
        loader, self._loader = self._loader, None
        if loader is not None:
            loader.kill()
            loader.communicate()
        main, self._main = self._main, None
        if main is None:
            return
        try:
            if main.info.transaction_status != 0:  # idle: 0; anything else (e.g. an interrupted statement)
                main.rollback()
            if self._started:
                main.execute(f"DROP TABLE IF EXISTS {self.schema}.{STAGING}")
                store.finish_run(main, self.schema, self.run_id, "aborted")
        except Exception:  # the server may be what failed; the next run cleans up (and marks us interrupted)
            pass
        finally:
            main.close()


def dsn_host(dsn: str) -> str:
    """Host, port and database of a libpq URL, for messages: never the user or password."""
    return dsn.split("://", 1)[-1].rsplit("@", 1)[-1].split("?")[0]


BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})|%00")
"""A '%' libpq cannot decode (its error message would quote the token, i.e. the password)."""


def check_dsn(url: str) -> None:
    """Refuse URLs libpq would misread, with what to do (a raw '@' in the password is the classic)."""
    netloc = url.split("://", 1)[-1].split("/", 1)[0]
    if netloc.count("@") > 1:
        raise ValueError(
            "the PostgreSQL URL has more than one '@' before the host: a password containing '@' "
            "must be percent-encoded as %40 (e.g. postgresql://user:p%40ss@host/db), or give the password "
            "in PGPASSWORD / ~/.pgpass instead of the URL"
        )
    if BAD_PERCENT.search(url):
        # libpq's own error quotes the whole bad token (the password): say what to do without it
        raise ValueError(
            "the PostgreSQL URL has a '%' that is not followed by two hex digits (or is %00): a password "
            "containing '%' must be percent-encoded as %25 (and '@' as %40), or give the password in "
            "PGPASSWORD / ~/.pgpass instead of the URL"
        )


def open_target(
    url: str | None,
    kommunenr: str,
    *,
    dry_run: bool,
    run_id: str | None = None,
    notice: store.Notice | None = None,
) -> Target:
    """`ndjson:DIR` | `postgresql://…` | None/dry-run → a target (not yet opened)."""
    if dry_run or url is None:
        return NullTarget()
    if url.startswith("ndjson:"):
        return NdjsonTarget(Path(url.removeprefix("ndjson:")))
    if url.startswith(("postgresql://", "postgres://")):
        check_dsn(url)
        return PostgresTarget(url, kommunenr, run_id=run_id, notice=notice)
    raise ValueError("target must be ndjson:DIR or postgresql://… (got an unsupported scheme)")
