"""The platform wheel (what the container image installs) carries code and data and runs outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(repo_root),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("epj_platform-*.whl")
    return built


def test_wheel_holds_every_area_and_the_data(wheel: Path, repo_root: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (
        "epj/cli.py",
        "epj/paths.py",
        "epj/tenants/model.py",
        "epj/catalog.py",
        "epj/migration/generate.py",
        "epj/migration/job.py",
        "epj/operator/cli.py",
        "epj/infra/manifests.py",
        "epj/runbooks/cli.py",
    ):
        assert module in names, module
    # Every tenant data file, also those in sub-folders (GP offices, provisioning records), ships in the wheel.
    tenants = repo_root / "tenants"
    tenant_files = sorted(
        p.relative_to(tenants).as_posix() for p in tenants.rglob("*.yaml") if "epj" not in p.relative_to(tenants).parts
    )
    shipped = sorted(
        n.removeprefix("epj/_data/tenants/")
        for n in names
        if n.startswith("epj/_data/tenants/") and n.endswith(".yaml")
    )
    assert shipped == tenant_files
    assert "epj/_data/monitoring/service-catalog.yaml" in names  # where epj.paths looks
    assert any(n.startswith("epj/_data/runbooks/") for n in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith("epj/__init__")], "epj is a namespace package"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "epj = epj.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_runs_without_the_checkout(wheel: Path, tmp_path: Path) -> None:
    """Install the wheel alone (dependencies borrowed from this venv, its editable install NOT loaded)."""
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    deps = sysconfig.get_paths()["purelib"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPJ_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), deps])
    code = """
import sys
from pathlib import Path
import epj.cli, epj.paths
from epj.tenants import load_tenants
from epj.catalog import load_catalog
from epj.migration.generate import generate_extract
from epj.migration.job import migration_job_manifest
site = Path(sys.argv[1])
assert Path(epj.cli.__file__).is_relative_to(site), epj.cli.__file__
assert epj.paths.repo_root() is None
assert epj.paths.tenants_dir().is_relative_to(site) and epj.paths.service_catalog_path().is_relative_to(site)
tenants = load_tenants()
assert len(tenants) == 22
load_catalog()
summary = generate_extract(Path(sys.argv[2]), "5035", scale=0.002, seed=1)
assert summary.records > 0
job = migration_job_manifest(tenants.get("5035"), purpose="rehearsal", run_id="r1", image="x/epj:1", extract_pvc="e")
assert all(Path(m.__file__).is_relative_to(site) for n, m in sys.modules.items() if n.startswith("epj.") and m.__file__)
print("ok", summary.records, job["metadata"]["namespace"])
"""
    # -S: no site processing, so the checkout's editable-install hook never runs; PYTHONPATH supplies the rest.
    result = subprocess.run(
        [sys.executable, "-S", "-c", code, str(site), str(tmp_path / "extract")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok ") and "kommune-5035" in result.stdout
    help_run = subprocess.run(
        [sys.executable, "-S", "-m", "epj.cli", "migrate", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert help_run.returncode == 0, help_run.stderr[-3000:]
    assert "generate" in help_run.stdout and "run" in help_run.stdout


def test_containerfile_builds_the_wheel_as_non_root_with_epj_entry_point(repo_root: Path) -> None:
    text = (repo_root / "infra" / "image" / "Containerfile").read_text(encoding="utf-8")
    assert text.count("FROM python:3.11-slim") == 2
    assert "pip wheel --no-deps" in text and "pip install /wheels/*.whl" in text
    assert "USER 10001:10001" in text and "--uid 10001" in text
    assert 'ENTRYPOINT ["epj"]' in text
    for entry in ("epj operator run", "epj migrate run", "exporter"):
        assert entry in text
    # Every folder the wheel is built from is copied into the build stage.
    for folder in ("tenants", "infra", "operator", "migration", "monitoring", "runbooks"):
        assert f"COPY {folder}/ {folder}/" in text
    ignore = (repo_root / "infra" / "image" / "Containerfile.dockerignore").read_text(encoding="utf-8")
    assert "**/__pycache__" in ignore and "!migration/" in ignore
