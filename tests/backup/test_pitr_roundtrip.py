"""Point-in-time recovery, for real, with the tools CloudNativePG's Barman Cloud plugin runs (issue 13).

A throwaway PostgreSQL 15 (own data directory and port, run as the unprivileged
``postgres`` user) archives its WAL with ``barman-cloud-wal-archive`` into an S3 server on
loopback (moto in server mode), encrypted at rest (``-e AES256``, what the ObjectStore
sets). A base backup with ``barman-cloud-backup``, writes, a recorded point in time, then
more writes and damage. The restore (``barman-cloud-restore`` + ``barman-cloud-wal-restore``
as ``restore_command``, ``recovery_target_time``) into a *new* data directory must hold
exactly the data of that moment (row counts and checksums) and none of the later writes,
while the damaged original is left as it was. Last, the monthly drill's long-term copy: a backup
marked ``barman-cloud-backup-keep --target full`` survives the retention policy until released.

Needs the barman-cloud tools and moto (``.ci/setup --with-test-tools`` puts them in
``.venv/barman-cloud``, readable by the ``postgres`` user) and PostgreSQL 15's binaries.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
BUCKET = "epj-backup-pitr-test"
SERVER = "epj-db"
RUN_AS = "postgres"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}

pytestmark = pytest.mark.xdist_group("pitr")


def _tools() -> Path:
    candidates = (
        Path(os.environ.get("EPJ_BARMAN_DIR", "/opt/epj-barman-cloud")) / "bin",  # where .ci/setup puts it as root
        REPO / ".venv" / "barman-cloud" / "bin",
        Path(shutil.which("barman-cloud-backup") or "").parent,
    )
    for candidate in candidates:
        if (candidate / "barman-cloud-backup").is_file() and (candidate / "moto_server").is_file():
            return candidate
    pytest.fail(
        "barman-cloud tools and moto are missing: run .ci/setup --with-test-tools (installs .venv/barman-cloud)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check: object, what: str, timeout: float = 60.0) -> None:
    """Poll ``check()`` until true; fail naming ``what`` after ``timeout`` seconds (readiness, not timing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@dataclass
class S3:
    endpoint: str


@pytest.fixture
def s3() -> Iterator[S3]:
    tools = _tools()
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(tools / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        try:
            urllib.request.urlopen(endpoint, timeout=1)  # loopback test server
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    try:
        _wait(up, "the S3 server (moto)")
        request = urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT")
        urllib.request.urlopen(request, timeout=5)  # loopback test server
        yield S3(endpoint)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class Postgres:
    """One throwaway PostgreSQL 15 server run as the unprivileged user (initdb refuses root)."""

    def __init__(self, data: Path, port: int, tools: Path, endpoint: str) -> None:
        self.data, self.port, self.tools, self.endpoint = data, port, tools, endpoint
        self.socket_dir = data.parent / f"sock-{port}"

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {"PATH": f"{self.tools}:{PG_BIN}:/usr/bin:/bin", "HOME": str(self.data.parent), **CREDENTIALS}
        cmd = ["runuser", "-u", RUN_AS, "--", "env", *(f"{k}={v}" for k, v in env.items()), *argv]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            pytest.fail(f"{' '.join(argv[:2])} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return proc

    def barman(self, tool: str, *args: str) -> str:
        return self.run(str(self.tools / tool), "--endpoint-url", self.endpoint, *args).stdout

    def start(self) -> None:
        self.socket_dir.mkdir(exist_ok=True)
        shutil.chown(self.socket_dir, RUN_AS, RUN_AS)
        self.run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.data.parent / f"log-{self.port}.txt"),
            "-o",
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=''",
            "-w",
            "-t",
            "120",
            "start",
        )

    def stop(self) -> None:
        self.run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def sql(self, query: str) -> str:
        out = self.run(
            str(PG_BIN / "psql"),
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-d",
            "postgres",
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            query,
        )
        return out.stdout.strip()


def _state(pg: Postgres) -> dict[str, str]:
    """What the data is: per table, row count and a checksum over every row in key order."""
    out = {}
    for table in ("journal_note", "medication_given"):
        out[table] = pg.sql(
            f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY id)), '-') FROM {table} t"
        )
    return out


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not under pytest's tmp_path: that is private to root, and the server runs as another user.
    path = Path(tempfile.mkdtemp(prefix="epj-pitr-"))
    os.chmod(path, 0o755)
    shutil.chown(path, RUN_AS, RUN_AS)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_restore_to_a_point_in_time_holds_exactly_that_moments_data(s3: S3, workdir: Path) -> None:
    tools = _tools()
    dest = f"s3://{BUCKET}/kommune-9999/"
    archive = f"barman-cloud-wal-archive --endpoint-url {s3.endpoint} -e AES256 -z {dest} {SERVER} %p"
    live = Postgres(workdir / "live", _free_port(), tools, s3.endpoint)
    live.run(str(PG_BIN / "initdb"), "-D", str(live.data), "-U", RUN_AS, "--auth=trust", "-E", "UTF8")
    with (live.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(f"wal_level = replica\narchive_mode = on\narchive_command = '{archive}'\narchive_timeout = 0\n")
    live.start()
    restored: Postgres | None = None
    try:
        live.sql(
            "CREATE TABLE journal_note (id int PRIMARY KEY, patient_ref text, body text);"
            "CREATE TABLE medication_given "
            "(id int PRIMARY KEY, patient_ref text, dose_mg numeric, given_at timestamptz)"
        )
        live.sql(
            "INSERT INTO journal_note SELECT g, 'P' || (g % 97), 'synthetic note ' || md5(g::text) "
            "FROM generate_series(1, 4000) g"
        )
        live.barman("barman-cloud-backup", "-e", "AES256", "-z", "-h", str(live.socket_dir), "-p", str(live.port),
                    dest, SERVER)  # fmt: skip
        # After the base backup: writes that only WAL replay can bring back.
        live.sql(
            "INSERT INTO medication_given SELECT g, 'P' || (g % 89), (g % 50) + 0.5, "
            "timestamptz '2026-12-01 08:00+01' + g * interval '1 minute' FROM generate_series(1, 2500) g"
        )
        live.sql("UPDATE journal_note SET body = body || ' (signed)' WHERE id % 10 = 0")
        at_target = _state(live)
        target = live.sql("SELECT clock_timestamp()")
        # Later: more writes, then damage (what the on-call restores away from).
        live.sql(
            "INSERT INTO journal_note SELECT g, 'P1', 'written after the target' FROM generate_series(4001, 4300) g"
        )
        live.sql("DELETE FROM medication_given WHERE id % 3 = 0")
        live.sql("UPDATE journal_note SET body = 'overwritten by mistake'")
        damaged = _state(live)
        assert damaged != at_target
        wal = live.sql("SELECT pg_walfile_name(pg_current_wal_lsn())")
        live.sql("SELECT pg_switch_wal()")

        def archived() -> bool:
            done = live.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
            return done >= wal

        _wait(archived, f"WAL {wal} to reach the object store")

        # The bucket holds an encrypted (SSE AES256) base backup and WAL under the tenant's prefix.
        listing = live.barman("barman-cloud-backup-list", "--format", "json", dest, SERVER)
        assert '"status": "DONE"' in listing
        assert (
            live.run(
                str(tools / "barman-cloud-check-wal-archive"), "--endpoint-url", s3.endpoint, dest, SERVER, check=False
            ).returncode
            != 0
        ), "the archive is in use by the live server: a new server must not archive into it"

        # Restore into a new data directory (never over the live one), then replay to the target.
        restored = Postgres(workdir / "restored", _free_port(), tools, s3.endpoint)
        live.barman("barman-cloud-restore", dest, SERVER, "latest", str(restored.data))
        restore_cmd = f"barman-cloud-wal-restore --endpoint-url {s3.endpoint} {dest} {SERVER} %f %p"
        with (restored.data / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"restore_command = '{restore_cmd}'\nrecovery_target_time = '{target}'\n"
                "recovery_target_action = 'promote'\narchive_mode = off\n"
            )
        (restored.data / "recovery.signal").touch()
        shutil.chown(restored.data / "recovery.signal", RUN_AS, RUN_AS)
        os.chmod(restored.data, 0o700)
        restored.start()
        _wait(lambda: restored is not None and restored.sql("SELECT pg_is_in_recovery()") == "f", "promotion")

        assert _state(restored) == at_target
        assert restored.sql("SELECT count(*) FROM journal_note WHERE id > 4000") == "0"
        assert restored.sql("SELECT count(*) FROM journal_note WHERE body = 'overwritten by mistake'") == "0"
        assert restored.sql("SELECT count(*) FROM medication_given") == "2500"
        # The original is untouched by the restore: still the damaged state.
        assert _state(live) == damaged

        # The drill keeps the proven backup as the month's long-term copy: it survives retention.
        proven = json.loads(listing)["backups_list"][0]["backup_id"]
        live.barman("barman-cloud-backup-keep", "--target", "full", dest, SERVER, proven)
        live.barman("barman-cloud-backup", "-e", "AES256", "-z", "-h", str(live.socket_dir), "-p", str(live.port),
                    dest, SERVER)  # fmt: skip
        live.barman("barman-cloud-backup-delete", "--retention-policy", "REDUNDANCY 1", dest, SERVER)
        after = json.loads(live.barman("barman-cloud-backup-list", "--format", "json", dest, SERVER))
        kept = {b["backup_id"] for b in after["backups_list"]}
        assert proven in kept and len(kept) == 2
        live.barman("barman-cloud-backup-keep", "--release", dest, SERVER, proven)
        live.barman("barman-cloud-backup-delete", "--retention-policy", "REDUNDANCY 1", dest, SERVER)
        released = json.loads(live.barman("barman-cloud-backup-list", "--format", "json", dest, SERVER))
        assert proven not in {b["backup_id"] for b in released["backups_list"]}
    finally:
        if restored is not None:
            restored.stop()
        live.stop()
