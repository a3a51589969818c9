"""Measured usage read from a real Prometheus (Debian's binary) on loopback, with backfilled data."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from epj.report.usage import PrometheusUnavailable, measured_usage

GIB = 1024**3
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
# A month still running, measured up to "now": two days keep the backfill (2 h blocks) quick.
END = dt.datetime(2026, 10, 3, tzinfo=dt.UTC)


def _openmetrics() -> str:
    """Five-minute samples for early October 2026: 5035 uses 0.5 cores, 5031 uses 2 cores."""
    lines = [
        "# TYPE container_cpu_usage_seconds counter",
        "# TYPE container_memory_working_set_bytes gauge",
        "# TYPE kubelet_volume_stats_used_bytes gauge",
    ]
    step = 300
    for ts in range(int(START.timestamp()) - step, int(END.timestamp()) + step, step):
        elapsed = ts - START.timestamp() + step
        for ns, cores, mem_gib, disk_gib in (("kommune-5035", 0.5, 2, 10), ("kommune-5031", 2.0, 6, 40)):
            lines.append(f'container_cpu_usage_seconds_total{{namespace="{ns}"}} {cores * elapsed} {ts}')
            lines.append(f'container_memory_working_set_bytes{{namespace="{ns}"}} {mem_gib * GIB} {ts}')
            lines.append(f'kubelet_volume_stats_used_bytes{{namespace="{ns}"}} {disk_gib * GIB} {ts}')
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def prometheus_with_october(tmp_path: Path) -> Iterator[str]:
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    assert promtool and prometheus, "Debian's prometheus package is installed by the test command"
    data = tmp_path / "data"
    source = tmp_path / "october.om"
    source.write_text(_openmetrics(), encoding="utf-8")
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)], check=True,
                   capture_output=True)  # fmt: skip
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n", encoding="utf-8")
    port = _free_port()
    proc = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={data}",
         "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("Prometheus did not become ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_measured_usage_for_a_month(prometheus_with_october: str) -> None:
    usage = measured_usage(prometheus_with_october, "2026-10", now=END)
    assert set(usage) == {"5035", "5031"}
    assert abs(usage["5035"].cpu_cores - Decimal("0.5")) < Decimal("0.01")
    assert abs(usage["5031"].cpu_cores - Decimal("2.0")) < Decimal("0.02")
    assert abs(usage["5031"].memory_gib - Decimal(6)) < Decimal("0.01")
    assert abs(usage["5035"].storage_gib - Decimal(10)) < Decimal("0.01")


def test_unreachable_prometheus_is_a_clear_error() -> None:
    with pytest.raises(PrometheusUnavailable, match="did not answer"):
        measured_usage(f"http://127.0.0.1:{_free_port()}", "2026-10", timeout=1)
