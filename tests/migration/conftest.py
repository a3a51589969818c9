"""Fixtures for the migration tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from epj.migration.pipeline import run_migration


@pytest.fixture(scope="session")
def expected_sample(sample_extract: Path) -> dict[str, Any]:
    """The shared sample's expected reconciliation (SPEC §6)."""
    data: dict[str, Any] = json.loads((sample_extract.parent / "5035-stjordal.expected.json").read_text())
    return data


@pytest.fixture()
def migrate(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """Dry-run migration of an extract folder with synthetic ids allowed; returns the reconciliation."""

    def run(extract: Path, **kw: Any) -> dict[str, Any]:
        kw.setdefault("synthetic_ids", True)
        kw.setdefault("dry_run", True)
        return run_migration(extract, None, report_dir=tmp_path / "report", **kw)

    return run
