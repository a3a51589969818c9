"""`epj migrate bench --json` prints one JSON object with the agreed keys as its last line (tiny scale;
no timing is asserted — the figures are for the closing note, not for the test)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from epj.cli import app


@pytest.mark.postgres
def test_bench_json_last_line() -> None:
    result = CliRunner().invoke(app, ["migrate", "bench", "--json", "--scale", "0.005"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    for key in ("records", "records_per_s", "copy_records_per_s", "ratio", "peak_rss_mb", "rerun_records_per_s"):
        assert figures[key] > 0
    assert figures["complete"] is True
    assert figures["ratio"] == pytest.approx(figures["records_per_s"] / figures["copy_records_per_s"], rel=0.01)
