"""Fixtures every area's tests share: where things are, and a private PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("EPJ_SHARED_DIR", REPO_ROOT.parent / "shared"))
PG_ADMIN_DSN = os.environ.get("EPJ_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The steering repo's shared/ folder (SPEC, samples). CI always has it beside the clone."""
    if not (SHARED_DIR / "legacy-extracts" / "SPEC.md").is_file():
        pytest.fail(f"shared material not found at {SHARED_DIR} (set EPJ_SHARED_DIR)")
    return SHARED_DIR


@pytest.fixture(scope="session")
def sample_extract(shared_dir: Path) -> Path:
    """The shared Stjørdal sample extract (SPEC §1 layout)."""
    return shared_dir / "legacy-extracts" / "samples" / "5035-stjordal"


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
