"""The tenant's newest backup is present, recent, intact and really restorable.

Restorable is proven, not assumed: the dump is restored into a scratch database
on the same server and its fingerprint compared with the manifest; the scratch
database is dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shlex
from pathlib import Path
from typing import Any

import pytest


def _dump_path(manifest_path: Path, manifest: dict[str, Any]) -> Path:
    return manifest_path.parent / str(manifest["dump"])


def test_backup_present(host: Any, newest_manifest_path: Path, manifest: dict[str, Any]) -> None:
    dump = host.file(str(_dump_path(newest_manifest_path, manifest)))
    assert dump.exists, f"{dump.path} is missing (manifest {newest_manifest_path.name} names it)"
    assert dump.size > 0


def test_backup_recent(request: pytest.FixtureRequest, newest_manifest_path: Path, manifest: dict[str, Any]) -> None:
    created = dt.datetime.strptime(str(manifest["created"]), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    age_h = (dt.datetime.now(dt.UTC) - created).total_seconds() / 3600
    limit = float(request.config.getoption("--max-backup-age-hours"))
    assert age_h <= limit, f"newest backup {newest_manifest_path.name} is {age_h:.1f} h old (limit {limit:g} h)"


def test_backup_checksum(host: Any, newest_manifest_path: Path, manifest: dict[str, Any]) -> None:
    dump = _dump_path(newest_manifest_path, manifest)
    actual = host.file(str(dump)).sha256sum
    assert actual == manifest["sha256"], f"{dump.name}: sha256 {actual} but the manifest says {manifest['sha256']}"
    sidecar = host.file(f"{dump}.sha256")
    assert sidecar.exists and sidecar.content_string.split()[0] == actual, f"{dump.name}.sha256 disagrees"


def test_backup_restorable(
    host: Any,
    pg: Any,
    fingerprint: Any,
    schema: str,
    tenant: str,
    newest_manifest_path: Path,
    manifest: dict[str, Any],
) -> None:
    scratch = f"epj_restorecheck_{tenant}_{secrets.token_hex(4)}"
    dump = _dump_path(newest_manifest_path, manifest)
    created = host.run(pg.client("createdb", scratch))
    assert created.rc == 0, f"cannot create scratch database {scratch}: {created.stderr.strip()}"
    try:
        restored = host.run(
            pg.client("pg_restore", "--exit-on-error", "--no-owner", "--dbname", scratch) + " " + shlex.quote(str(dump))
        )
        assert restored.rc == 0, f"pg_restore of {dump.name} failed: {restored.stderr.strip()[:500]}"
        assert fingerprint(schema, database=scratch) == manifest["fingerprint"], (
            f"{dump.name} restores to data that differs from its manifest"
        )
    finally:
        host.run(pg.client("dropdb", "--if-exists", "--force", scratch))
