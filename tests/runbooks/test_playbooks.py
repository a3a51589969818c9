"""The on-call playbooks, run for real (ansible-playbook -c local) against the local PostgreSQL.

Each playbook that changes something is run twice: the second run must report
changed=0. Data damage is detected by the testinfra checks and repaired by the
restore playbook; refusals exit non-zero with a message naming the reason.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
import testinfra

from .conftest import REPO_ROOT, SCHEMA, TENANT, TenantDb, psql, rows_by_type, run_playbook


def run_checks(db: TenantDb) -> subprocess.CompletedProcess[str]:
    """The on-call testinfra checks (runbooks/checks) against local://, as on-call runs them."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "runbooks/checks",
            "--hosts=local://",
            "--tenant",
            TENANT,
            "--pg-database",
            db.database,
            "--backup-dir",
            str(db.backup_dir),
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-q",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_backup_damage_restore_round_trip(tenant_db: TenantDb) -> None:
    db = tenant_db
    migrated = rows_by_type(db.dsn)
    assert migrated["MedicationAdministration"] > 0 and migrated["Patient"] > 0
    # An older backup that retention (keep 1) must delete once the new one is complete.
    old = db.backup_dir / TENANT
    old.mkdir(mode=0o700)
    for suffix, content in [(".dump", "x"), (".dump.sha256", "x"), (".manifest.json", '{"fingerprint": {}}')]:
        (old / f"{SCHEMA}-20200101T000000Z{suffix}").write_text(content)
    first = run_playbook("backup-tenant-db.yml", db.extra(epj_backup_keep=1))
    # dump, its mode, checksum, manifest; the old files deleted (one loop)
    assert first.rc == 0 and first.changed == 5, first
    backups = sorted(p.name for p in (db.backup_dir / TENANT).iterdir())
    assert len(backups) == 3 and backups[0].endswith(".dump") and "20200101" not in " ".join(backups), backups
    manifest = json.loads(next((db.backup_dir / TENANT).glob("*.manifest.json")).read_text())
    assert manifest["fingerprint"]["resource_types"] == migrated
    assert stat.S_IMODE((db.backup_dir / TENANT).stat().st_mode) == 0o700  # only its owner can read the dumps
    for path in (db.backup_dir / TENANT).iterdir():  # and each file on its own, patient records included
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name

    again = run_playbook("backup-tenant-db.yml", db.extra())
    assert again.rc == 0 and again.changed == 0, again
    assert "already holds exactly the current data" in again.output

    # Damage: a night's medication administrations deleted, a whole table dropped.
    psql(db.dsn, f"DELETE FROM {SCHEMA}.fhir_resource WHERE resource_type = 'MedicationAdministration';")
    psql(db.dsn, f"DROP TABLE {SCHEMA}.migration_reconciliation;")
    damaged = run_checks(db)
    assert damaged.returncode != 0, damaged.stdout
    assert "rows per resource type differ from the manifest" in damaged.stdout

    refused = run_playbook("restore-tenant-db.yml", db.extra())
    assert refused.rc != 0 and "is not in maintenance mode" in refused.output, refused

    app_session = psycopg.connect(db.dsn.replace("postgres@", f"{db.app_role}@"), autocommit=True)
    on = run_playbook("maintenance-mode.yml", db.extra(maintenance="on"))
    assert on.rc == 0 and on.changed == 2, on  # NOLOGIN, and the open application session ended
    with pytest.raises(psycopg.OperationalError):
        app_session.execute("SELECT 1")
    app_session.close()
    on_again = run_playbook("maintenance-mode.yml", db.extra(maintenance="on"))
    assert on_again.rc == 0 and on_again.changed == 0, on_again
    assert psql(db.dsn, f"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{db.app_role}'") == "f"

    dry = run_playbook("restore-tenant-db.yml", db.extra(), "--check")
    assert dry.rc == 0 and "Check mode: would restore" in dry.output, dry
    assert "MedicationAdministration" not in rows_by_type(db.dsn)  # --check changed nothing

    restored = run_playbook("restore-tenant-db.yml", db.extra())
    assert restored.rc == 0 and restored.changed >= 2, restored
    assert "the data matches the backup's manifest" in restored.output
    restored_again = run_playbook("restore-tenant-db.yml", db.extra())
    assert restored_again.rc == 0 and restored_again.changed == 0, restored_again

    # testinfra confirms the data is back: directly, and through the on-call checks.
    host = testinfra.get_host("local://")
    sql = f"SELECT count(*) FROM {SCHEMA}.fhir_resource; SELECT count(*) > 0 FROM {SCHEMA}.migration_reconciliation"
    counted = host.run(f"psql -X -At {db.dsn} -c '{sql}'")
    assert counted.rc == 0 and counted.stdout.split() == [str(sum(migrated.values())), "t"], counted.stderr
    assert rows_by_type(db.dsn) == migrated
    checks = run_checks(db)
    assert checks.returncode == 0, checks.stdout[-3000:]
    assert "10 passed" in checks.stdout
    damaged_copies = psql(db.dsn, f"SELECT count(*) FROM pg_namespace WHERE nspname LIKE '{SCHEMA}_damaged_%'")
    assert damaged_copies == "1"  # kept for the incident review

    off = run_playbook("maintenance-mode.yml", db.extra(maintenance="off"))
    assert off.rc == 0 and off.changed == 1, off
    assert psql(db.dsn, f"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{db.app_role}'") == "t"


def test_rotate_credentials_once_per_rotation(tenant_db: TenantDb, tmp_path: Path) -> None:
    db = tenant_db
    secret = tmp_path / "secret.yaml"
    extra = db.extra(rotation="INC-4711", epj_secret_target="file", epj_secret_file=str(secret))

    def password_hash() -> str:
        return psql(db.dsn, f"SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = '{db.app_role}'")

    before = password_hash()
    rotated = run_playbook("rotate-db-credentials.yml", extra)
    assert rotated.rc == 0 and rotated.changed >= 3, rotated
    after = password_hash()
    assert after.startswith("SCRAM-SHA-256$") and after != before
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    text = secret.read_text()
    assert "kind: Secret" in text and db.app_role in text and "namespace: kommune-5035" in text
    password = text.split("password:", 1)[1].split()[0]
    assert password not in rotated.output  # no_log kept it out of the output

    again = run_playbook("rotate-db-credentials.yml", extra)
    assert again.rc == 0 and again.changed == 0, again
    assert password_hash() == after


FAKE_KUBECTL = """\
#!{python}
# A stand-in for kubectl: one GoLive whose spec.paused lives in a JSON file; logs each call.
import json, pathlib, sys
state = pathlib.Path({state!r})
args = [a for a in sys.argv[1:] if not a.startswith(("--namespace=", "--request-timeout="))]
with open(str(state) + ".log", "a") as log:
    log.write(" ".join(args) + "\\n")
golive = json.loads(state.read_text())
if args[:1] == ["version"]:
    print("{{}}")
elif args[:2] == ["get", "namespace"]:
    print("namespace/" + args[2])
elif args[:1] == ["get"] and "--output=jsonpath={{.spec.paused}}" in args:
    print(str(golive["spec"]["paused"]).lower(), end="")
elif args[:1] == ["get"]:
    print("NAME PHASE\\ngolive-5035 Cutover")
elif args[:1] == ["patch"]:
    patch = json.loads(next(a for a in args if a.startswith("--patch="))[len("--patch="):])
    golive["spec"].update(patch["spec"])
    state.write_text(json.dumps(golive))
else:
    sys.exit("unexpected kubectl call: " + " ".join(args))
"""


def test_golive_pause_and_resume(tmp_path: Path) -> None:
    state = tmp_path / "golive.json"
    state.write_text(json.dumps({"spec": {"paused": False}}))
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(python=sys.executable, state=str(state)))
    kubectl.chmod(0o755)
    extra: dict[str, object] = {"tenant": TENANT, "epj_kubectl": str(kubectl)}

    paused = run_playbook("golive-pause.yml", extra)
    assert paused.rc == 0 and paused.changed == 1, paused
    assert json.loads(state.read_text())["spec"]["paused"] is True
    assert run_playbook("golive-pause.yml", extra).changed == 0
    dry = run_playbook("golive-resume.yml", extra, "--check")
    assert dry.rc == 0 and dry.changed == 1 and "Check mode: would set spec.paused=false" in dry.output, dry
    assert json.loads(state.read_text())["spec"]["paused"] is True  # --check patched nothing
    resumed = run_playbook("golive-resume.yml", extra)
    assert resumed.rc == 0 and resumed.changed == 1, resumed
    assert json.loads(state.read_text())["spec"]["paused"] is False
    patches = [line for line in Path(f"{state}.log").read_text().splitlines() if line.startswith("patch")]
    assert len(patches) == 2


def test_golive_pause_refuses_without_kubectl_or_cluster(tmp_path: Path) -> None:
    missing = run_playbook("golive-pause.yml", {"tenant": TENANT, "epj_kubectl": str(tmp_path / "no-kubectl")})
    assert missing.rc != 0 and missing.changed == 0
    assert "REFUSED: this playbook changes Kubernetes objects, but kubectl" in missing.output
    assert "is not installed" in missing.output


def test_diagnose_changes_nothing(tenant_db: TenantDb) -> None:
    result = run_playbook("diagnose-tenant.yml", tenant_db.extra(epj_kubectl="/nonexistent/kubectl"))
    assert result.rc == 0 and result.changed == 0, result
    count = rows_by_type(tenant_db.dsn)["MedicationAdministration"]
    assert f'"MedicationAdministration": {count}' in result.output
    assert '"maintenance_mode": "off"' in result.output
    assert "NONE in" in result.output  # no backup yet: said plainly


def test_refusals_are_clear(tenant_db: TenantDb, tmp_path: Path) -> None:
    db = tenant_db
    # A backup whose dump does not match the checksum its manifest recorded.
    forged = tmp_path / "forged" / TENANT
    forged.mkdir(parents=True)
    (forged / f"{SCHEMA}-20260101T000000Z.dump").write_bytes(b"PGDMP not really")
    (forged / f"{SCHEMA}-20260101T000000Z.manifest.json").write_text(
        json.dumps({"schema": SCHEMA, "sha256": "0" * 64, "dump": f"{SCHEMA}-20260101T000000Z.dump", "fingerprint": {}})
    )
    cases = [
        ("backup-tenant-db.yml", db.extra(tenant="9999"), "unknown tenant 9999"),
        ("backup-tenant-db.yml", db.extra(tenant="1811"), "holds an option it has not called"),
        ("backup-tenant-db.yml", db.extra(epj_postgres_port=1), "database unreachable"),
        ("restore-tenant-db.yml", db.extra(), "no backup of tenant 5035"),
        ("restore-tenant-db.yml", db.extra(epj_backup_dir=str(tmp_path / "forged")), "does not match its manifest"),
    ]
    for playbook, extra, reason in cases:
        result = run_playbook(playbook, extra)
        assert result.rc != 0 and result.failed == 1, result
        assert "REFUSED: " + reason in result.output or reason in result.output, result
        assert result.changed == 0


def test_playbooks_pass_ansible_lint_production_profile() -> None:
    lint = REPO_ROOT / ".venv" / "tools" / "ansible-lint" / "bin" / "ansible-lint"
    env = {**os.environ, "PATH": f"{lint.parent}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    result = subprocess.run(
        [str(lint), "--offline", "--profile", "production", "--nocolor"],
        cwd=REPO_ROOT / "runbooks" / "ansible",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, textwrap.shorten(result.stdout + result.stderr, 4000)
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr
