"""Fixtures for the migration tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from epj.migration.pipeline import run_migration


@pytest.fixture(scope="session")
def expected_sample(expected_golden: dict[str, Any]) -> dict[str, Any]:
    """The expected reconciliation of `sample_extract` (the golden extract's)."""
    return expected_golden


@pytest.fixture()
def migrate(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """Dry-run migration of an extract folder with synthetic ids allowed; returns the reconciliation."""

    def run(extract: Path, **kw: Any) -> dict[str, Any]:
        kw.setdefault("synthetic_ids", True)
        kw.setdefault("dry_run", True)
        return run_migration(extract, None, report_dir=tmp_path / "report", **kw)

    return run
