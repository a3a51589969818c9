"""A real Prometheus on loopback scrapes the KPI exporter (a migrated sample tenant in PostgreSQL) and the
probe exporter; the medication-on-time share it returns equals the one computed directly in SQL."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import shutil
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from prometheus_client import CollectorRegistry

from epj.catalog import load_catalog
from epj.monitoring.kpi.exporter import serve as serve_kpis
from epj.monitoring.probes import Prober, clinical_targets
from epj.telemetry import start_metrics_server
from epj.telemetry.labels import check_label
from epj.tenants import load_tenants

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
OSLO = dt.timezone(dt.timedelta(hours=1))
AS_OF = dt.datetime(2026, 3, 1, tzinfo=OSLO)
EXT = "urn:epj:extension:planlagt-tidspunkt"

# Independent of epj.monitoring.kpi: plain SQL over the migration's table.
DIRECT_SQL = """
WITH ma AS (
    SELECT resource->>'status' AS status, (resource->>'effectiveDateTime')::timestamptz AS given,
           (SELECT (e->>'valueDateTime')::timestamptz FROM jsonb_array_elements(resource->'extension') e
             WHERE e->>'url' = %(ext)s) AS planned
    FROM kommune_5035.fhir_resource
    WHERE resource_type = 'MedicationAdministration' AND resource->>'status' IN ('completed', 'not-done')
)
-- Doses due (given or not given); only a dose given within the hour is on time.
SELECT avg(CASE WHEN status = 'completed' AND abs(extract(epoch FROM given - planned)) <= 3600
                THEN 1.0 ELSE 0.0 END)::float8, count(*)
FROM ma WHERE planned >= %(start)s AND planned < %(end)s
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if "/journal/" in self.path else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture()
def migrated_tenant(pg_dsn: str, generated_extract: Path, tmp_path: Path) -> str:
    """A generated Stjørdal extract migrated by the migration library, plus ten late doses in the documented shape."""
    from epj.migration.pipeline import run_migration

    run_migration(generated_extract, pg_dsn, kommunenr="5035", synthetic_ids=True, report_dir=tmp_path / "report")
    with psycopg.connect(pg_dsn) as conn, conn.cursor() as cur:
        for i in range(10):
            planned = dt.datetime(2026, 2, 20, 8, tzinfo=OSLO) + dt.timedelta(days=i % 5, hours=i)
            res = {
                "resourceType": "MedicationAdministration",
                "id": f"late-{i}",
                "status": "completed",
                "extension": [{"url": EXT, "valueDateTime": planned.isoformat()}],
                "effectiveDateTime": (planned + dt.timedelta(hours=2)).isoformat(),
            }
            cur.execute(
                "INSERT INTO kommune_5035.fhir_resource VALUES "
                "(%s, 'MedicationAdministration', NULL, %s::jsonb, 'test')",
                (res["id"], json.dumps(res)),
            )
    return pg_dsn


@pytest.fixture()
def exporters(migrated_tenant: str) -> Iterator[dict[str, int]]:
    servers: list[Any] = []
    stop = threading.Event()
    try:
        kpi_server, _ = serve_kpis(migrated_tenant, 0, addr="127.0.0.1", tenants=["5035"], as_of=AS_OF, ttl=0)
        servers.append(kpi_server)
        health = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
        servers.append(health)
        threading.Thread(target=health.serve_forever, daemon=True).start()
        registry = CollectorRegistry()
        pattern = f"http://127.0.0.1:{health.server_port}/{{tenant}}/{{service}}{{health_path}}"
        targets = clinical_targets([load_tenants().get("5035")], load_catalog(), pattern)
        prober = Prober(targets, registry, timeout=2)
        prober.run_once()
        threading.Thread(target=prober.run_forever, args=(0.5, stop), daemon=True).start()
        probe_server, _ = start_metrics_server(0, addr="127.0.0.1", registry=registry)
        servers.append(probe_server)
        yield {"kpi": kpi_server.server_port, "probe": probe_server.server_port}
    finally:
        stop.set()
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture()
def prometheus(
    exporters: dict[str, int], rendered: Path, tmp_path: Path, start_daemon: Callable[[list[str], str, str], str]
) -> str:
    port = _free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "5s"},
        "rule_files": [str(p) for p in sorted((rendered / "rules").glob("*.yml"))],
        "scrape_configs": [
            {"job_name": "epj-kpi", "static_configs": [{"targets": [f"127.0.0.1:{exporters['kpi']}"]}]},
            {"job_name": "epj-probes", "static_configs": [{"targets": [f"127.0.0.1:{exporters['probe']}"]}]},
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    base = f"http://127.0.0.1:{port}"
    return start_daemon(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        "prometheus",
        base,
    )


def _query(base: str, promql: str, timeout: float = 30) -> list[dict[str, Any]]:
    """Poll until the query returns something (scrapes arrive every second)."""
    deadline = time.monotonic() + timeout
    while True:
        data = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        if data["data"]["result"] or time.monotonic() > deadline:
            return list(data["data"]["result"])
        time.sleep(0.5)


def test_prometheus_sees_the_same_kpi_as_sql_and_the_probe_results(prometheus: str, migrated_tenant: str) -> None:
    with psycopg.connect(migrated_tenant) as conn:
        share, n = conn.execute(
            DIRECT_SQL, {"ext": EXT, "start": AS_OF - dt.timedelta(days=30), "end": AS_OF}
        ).fetchone()  # type: ignore[misc]
    assert n > 100 and 0.5 < share < 1.0  # the sample plus ten late doses: a real share, not 0 or 1

    result = _query(prometheus, 'epj_kpi_value{kpi="medication_on_time_share", tenant="5035", period="30d"}')
    assert len(result) == 1
    assert float(result[0]["value"][1]) == pytest.approx(share, rel=1e-9)
    size = _query(prometheus, 'epj_kpi_sample_size{kpi="medication_on_time_share", tenant="5035", period="30d"}')
    assert int(float(size[0]["value"][1])) == n

    journal = _query(prometheus, 'epj_probe_success{tenant="5035", service="journal"}')
    assert float(journal[0]["value"][1]) == 1
    med = _query(prometheus, 'epj_probe_success{tenant="5035", service="medication-administration"}')
    assert float(med[0]["value"][1]) == 0
    assert _query(prometheus, 'epj_probe_last_success_timestamp_seconds{service="journal"}')

    # Every generated rule file loaded into a real Prometheus without errors.
    rules = _get(f"{prometheus}/api/v1/rules")["data"]["groups"]
    assert {g["name"] for g in rules} >= {"epj-slo-medication-administration", "epj-probes", "epj-platform"}
    assert all(r.get("health", "ok") != "err" for g in rules for r in g["rules"])

    # No label scraped from our exporters carries anything outside the allow-list.
    series = _get(f"{prometheus}/api/v1/series?" + urllib.parse.urlencode({"match[]": '{job=~"epj-.*"}'}))["data"]
    assert series
    for labels in series:
        for name, value in labels.items():
            if name not in {"__name__", "job", "instance"}:
                check_label(name, value)
