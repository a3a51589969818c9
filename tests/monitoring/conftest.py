"""Fixtures for the monitoring tests: one rendered output folder per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from epj.monitoring.render import render_all


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``epj monitoring render --out DIR`` output, rendered once."""
    out = tmp_path_factory.mktemp("monitoring-render")
    render_all(out, base_url="https://runbooks.example.test")
    return out
