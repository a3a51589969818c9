"""Options and fixtures for the on-call checks (pytest-testinfra).

Run them on the operations host after a fix, e.g. after restoring Stjørdal:

    pytest runbooks/checks --hosts=local:// --tenant 5035 --pg-database epj --backup-dir /var/backups/epj

Every option also reads an environment variable (EPJ_CHECK_TENANT, EPJ_PGDATABASE, …)
so a runbook can set them once. The checks use the same fingerprint SQL as the
backup and restore playbooks, so "the data is back" means the same thing in both.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FINGERPRINT_SQL = Path(__file__).resolve().parents[1] / "ansible" / "playbooks" / "files" / "fingerprint.sql"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("epj", "EPJ on-call checks")
    group.addoption("--tenant", default=os.environ.get("EPJ_CHECK_TENANT"), help="kommunenummer, e.g. 5035")
    group.addoption("--pg-host", default=os.environ.get("EPJ_PGHOST", "127.0.0.1"))
    group.addoption("--pg-port", default=os.environ.get("EPJ_PGPORT", "5432"))
    group.addoption("--pg-user", default=os.environ.get("EPJ_PGUSER", "postgres"))
    group.addoption("--pg-database", default=os.environ.get("EPJ_PGDATABASE", "epj"))
    group.addoption(
        "--resource-table",
        default=os.environ.get("EPJ_RESOURCE_TABLE", "fhir_resource"),
        help="table of migrated FHIR resources with a resource_type column (rows per type are compared)",
    )
    group.addoption("--backup-dir", default=os.environ.get("EPJ_BACKUP_DIR", "/var/backups/epj"))
    group.addoption(
        "--manifest",
        default=os.environ.get("EPJ_CHECK_MANIFEST"),
        help="manifest to compare the live data with (default: the newest backup's)",
    )
    group.addoption(
        "--max-backup-age-hours", type=float, default=float(os.environ.get("EPJ_MAX_BACKUP_AGE_HOURS", "26"))
    )


@dataclass(frozen=True)
class Pg:
    """How to reach the tenant database with psql from the host under test."""

    host: str
    port: str
    user: str
    database: str

    def psql(self, *args: str, database: str | None = None) -> str:
        base = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", self.port, "-U", self.user]
        return shlex.join([*base, "-d", database or self.database, *args])

    def client(self, tool: str, *args: str) -> str:
        return shlex.join([tool, "-h", self.host, "-p", self.port, "-U", self.user, *args])


@pytest.fixture(scope="session")
def tenant(request: pytest.FixtureRequest) -> str:
    value = request.config.getoption("--tenant")
    if not value or not str(value).isdigit() or len(str(value)) != 4:
        pytest.fail("give the tenant's kommunenummer: --tenant 5035 (or EPJ_CHECK_TENANT)")
    return str(value)


@pytest.fixture(scope="session")
def schema(tenant: str) -> str:
    return f"kommune_{tenant}"


@pytest.fixture(scope="session")
def pg(request: pytest.FixtureRequest) -> Pg:
    opt = request.config.getoption
    return Pg(str(opt("--pg-host")), str(opt("--pg-port")), str(opt("--pg-user")), str(opt("--pg-database")))


@pytest.fixture(scope="session")
def backup_dir(request: pytest.FixtureRequest, tenant: str) -> Path:
    return Path(str(request.config.getoption("--backup-dir"))) / tenant


def _fingerprint(host: Any, pg: Pg, table: str, schema: str, database: str | None = None) -> dict[str, Any]:
    """The schema's fingerprint (see fingerprint.sql), read through testinfra's host."""
    cmd = pg.psql("-v", f"schema={schema}", "-v", f"rtable={table}", "-v", "rtype=resource_type", database=database)
    result = host.run(f"{cmd} -f {shlex.quote(str(FINGERPRINT_SQL))}")
    assert result.rc == 0, f"fingerprint of {schema} failed: {result.stderr.strip()}"
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture()
def fingerprint(request: pytest.FixtureRequest, host: Any, pg: Pg) -> Callable[..., dict[str, Any]]:
    """``fingerprint(schema, database=None)``: the live fingerprint of a schema (fixtures, not imports:
    pytest imports these files in importlib mode, so test modules cannot import this conftest)."""

    def run(schema: str, database: str | None = None) -> dict[str, Any]:
        return _fingerprint(host, pg, str(request.config.getoption("--resource-table")), schema, database)

    return run


@pytest.fixture()
def newest_manifest_path(host: Any, backup_dir: Path, schema: str) -> Path:
    """The newest complete backup (its manifest is written last)."""
    listing = host.run(f"ls -1 {shlex.quote(str(backup_dir))}")
    manifests = sorted(
        name for name in listing.stdout.split() if name.startswith(f"{schema}-") and name.endswith(".manifest.json")
    )
    assert manifests, f"no backup of {schema} in {backup_dir}"
    return backup_dir / manifests[-1]


@pytest.fixture()
def manifest(request: pytest.FixtureRequest, host: Any, newest_manifest_path: Path) -> dict[str, Any]:
    path = request.config.getoption("--manifest") or str(newest_manifest_path)
    data: dict[str, Any] = json.loads(host.file(path).content_string)
    return data
