"""Fixtures every area's tests share: where things are, and a private PostgreSQL database."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# ../shared is optional (developers' rule 5): tests use it as an extra cross-check when it is there.
# EPJ_SHARED_DIR points elsewhere; a path that does not exist simulates a fresh clone.
SHARED_DIR = Path(os.environ.get("EPJ_SHARED_DIR", REPO_ROOT.parent / "shared"))
GOLDEN_DIR = REPO_ROOT / "migration" / "golden"
GOLDEN_EXTRACT = GOLDEN_DIR / "5035-golden"
SHARED_SAMPLE = SHARED_DIR / "legacy-extracts" / "samples" / "5035-stjordal"


def shared_available() -> bool:
    """Whether the optional shared material (SPEC, sample) is beside the clone."""
    return (SHARED_DIR / "legacy-extracts" / "SPEC.md").is_file() and (SHARED_SAMPLE / "UTTREKK.txt").is_file()


def reference_extracts() -> list[tuple[str, Path, Path]]:
    """(name, extract folder, expected reconciliation) of every extract with a known reconciliation:
    always the project's golden extract, plus the shared sample as a cross-check when present."""
    found = [("golden", GOLDEN_EXTRACT, GOLDEN_DIR / "5035-golden.expected.json")]
    if shared_available():
        found.append(("shared-sample", SHARED_SAMPLE, SHARED_SAMPLE.parent / "5035-stjordal.expected.json"))
    return found


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test asking for `reference_extract` runs once per known extract (golden always, shared if present)."""
    if "reference_extract" in metafunc.fixturenames:
        cases = reference_extracts()
        metafunc.parametrize(
            "reference_extract",
            [(path, json.loads(expected.read_text(encoding="utf-8"))) for _, path, expected in cases],
            ids=[name for name, _, _ in cases],
        )


PG_ADMIN_DSN = os.environ.get("EPJ_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path | None:
    """The steering repo's shared/ folder (SPEC, samples) when it is beside the clone, else None."""
    return SHARED_DIR if shared_available() else None


@pytest.fixture(scope="session")
def golden_extract() -> Path:
    """The project's own hand-made golden extract for Stjørdal (migration/golden, SPEC §1 layout)."""
    return GOLDEN_EXTRACT


@pytest.fixture(scope="session")
def expected_golden() -> dict[str, Any]:
    """The golden extract's reconciliation (SPEC §6), worked out by hand row by row."""
    data: dict[str, Any] = json.loads((GOLDEN_DIR / "5035-golden.expected.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def generated_extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deterministic generated extract for Stjørdal (project generator, seed fixed, extract time
    2026-03-01) for tests that need volume (thousands of doses) rather than hand-checked rows."""
    import datetime as dt

    from epj.migration.generate import generate_extract

    folder = tmp_path_factory.mktemp("generated") / "5035"
    generate_extract(folder, "5035", scale=0.003, seed=7, extract_time=dt.datetime(2026, 3, 1, 2, 0))
    return folder


@pytest.fixture(scope="session")
def sample_extract(golden_extract: Path) -> Path:
    """An extract for tests that need a migrated tenant: the project's golden extract (self-contained)."""
    return golden_extract


@pytest.fixture()
def pg_dsn() -> Iterator[str]:
    """A fresh, empty database on the local PostgreSQL, dropped after the test."""
    import psycopg

    name = f"epj_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def start_daemon() -> Iterator[Callable[[list[str], str, str], str]]:
    """Start a loopback daemon (Prometheus, Alertmanager): ``start(argv, name, base_url)`` waits for
    ``base_url/-/ready`` and returns ``base_url``; every daemon started is stopped after the test."""
    import subprocess
    import time
    import urllib.request

    procs: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], name: str, base: str) -> str:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(proc)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/-/ready", timeout=2).close()
                return base
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read() if proc.stderr else b""
                    raise RuntimeError(f"{name} did not start: {err.decode(errors='replace')[-2000:]}") from exc
                time.sleep(0.2)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
