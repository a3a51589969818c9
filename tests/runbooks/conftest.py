"""Fixtures for the runbook tests: run the real playbooks, a small migrated-like tenant schema."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO_ROOT / "runbooks" / "ansible"
BIN = Path(sys.executable).parent
TENANT = "5035"
SCHEMA = f"kommune_{TENANT}"

_RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class PlayResult:
    rc: int
    output: str
    ok: int
    changed: int
    failed: int

    def __str__(self) -> str:
        return f"rc={self.rc} ok={self.ok} changed={self.changed} failed={self.failed}\n{self.output[-4000:]}"


def run_playbook(name: str, extra: dict[str, object], *args: str) -> PlayResult:
    """Run runbooks/ansible/playbooks/<name> for real (connection local) and read its PLAY RECAP."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    cmd = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(ANSIBLE_DIR / "inventory"),
        "-c",
        "local",
        str(ANSIBLE_DIR / "playbooks" / name),
        "-e",
        json.dumps(extra),
        *args,
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    recap = _RECAP.search(output)
    assert recap is not None, f"no PLAY RECAP in the output of {name}:\n{output[-3000:]}"
    return PlayResult(proc.returncode, output, int(recap["ok"]), int(recap["changed"]), int(recap["failed"]))


def psql(dsn: str, sql: str) -> str:
    proc = subprocess.run(
        ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@dataclass(frozen=True)
class TenantDb:
    dsn: str
    database: str
    app_role: str
    backup_dir: Path

    def extra(self, **more: object) -> dict[str, object]:
        """Extra vars pointing the playbooks at this test's database, role and backup folder."""
        return {
            "tenant": TENANT,
            "epj_postgres_db": self.database,
            "epj_app_role_override": self.app_role,
            "epj_backup_dir": str(self.backup_dir),
            **more,
        }


@pytest.fixture()
def tenant_db(pg_dsn: str, sample_extract: Path, tmp_path: Path) -> Iterator[TenantDb]:
    """Stjørdal's sample extract migrated for real into a fresh database, and its own application role."""
    from epj.migration.pipeline import run_migration

    run_migration(sample_extract, pg_dsn, kommunenr=TENANT, synthetic_ids=True, report_dir=tmp_path / "report")
    database = pg_dsn.rsplit("/", 1)[1]
    role = f"epj_test_{uuid.uuid4().hex[:10]}_app"
    psql(pg_dsn, f"CREATE ROLE {role} LOGIN")
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    try:
        yield TenantDb(pg_dsn, database, role, backup_dir)
    finally:
        admin = pg_dsn.rsplit("/", 1)[0] + "/postgres"
        psql(admin, f"DROP ROLE IF EXISTS {role}")


def rows_by_type(dsn: str) -> dict[str, int]:
    out = psql(dsn, f"SELECT resource_type, count(*) FROM {SCHEMA}.fhir_resource GROUP BY 1 ORDER BY 1")
    return {line.split("|")[0]: int(line.split("|")[1]) for line in out.splitlines() if line}
