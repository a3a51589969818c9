"""End to end with a real Prometheus on loopback: the prod render's rules, the real exporters, the rendered monitors.

The probe exporter and the KPI exporter run as the Deployments run them (``epj`` with the rendered
arguments, as separate processes); only what a pod gets from the cluster is replaced by loopback:
the clinical endpoints' address (``--url-pattern`` to a fake endpoint server), the listen port and
the KPI exporter's database (a fresh one on the local PostgreSQL). Prometheus gets a scrape config
built from the rendered PodMonitors (job from ``jobLabel``, the relabelled ``tenant``, the pod's
namespace) and the rule groups of the rendered PrometheusRule objects, byte for byte except ``for``,
which is set to 0s: Prometheus cannot be fast-forwarded, and the ``for`` durations are covered by the
promtool unit tests (tests/monitoring/test_mon_promtool.py).

Then one fake clinical endpoint (journal of Stjørdal, 5035) stops answering and EpjClinicalEndpointDown
must fire for exactly that tenant and service, with a runbook URL on the prod base that resolves to a file.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from epj import contract
from epj.infra.config import load_stack_config

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
EPJ = str(Path(sys.executable).with_name("epj"))
STOPPED = ("5035", "journal")
Obj = dict[str, Any]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read() if proc.stderr else b""
                raise RuntimeError(f"{what} did not start: {err.decode(errors='replace')[-2000:]}") from exc
            time.sleep(0.3)


class _Endpoints(http.server.BaseHTTPRequestHandler):
    """Every tenant's clinical endpoints; a stopped one closes the connection without answering."""

    stopped: ClassVar[set[tuple[str, str]]] = set()

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) >= 2 and (parts[0], parts[1]) in self.stopped:
            self.close_connection = True
            self.connection.close()
            return
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture()
def endpoints() -> Iterator[str]:
    _Endpoints.stopped = set()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endpoints)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/{{tenant}}/{{service}}{{health_path}}"
    finally:
        server.shutdown()
        server.server_close()


def _deployment(objs: list[Obj], namespace: str, name: str) -> Obj:
    return next(
        o
        for o in objs
        if o["kind"] == "Deployment" and o["metadata"]["name"] == name and o["metadata"]["namespace"] == namespace
    )


def _replace_arg(args: list[str], option: str, value: str) -> list[str]:
    out = list(args)
    out[out.index(option) + 1] = value
    return out


@pytest.fixture()
def exporters(prod_objects: list[Obj], endpoints: str, pg_dsn: str) -> Iterator[dict[tuple[str, str], int]]:
    """The rendered probe exporter and Stjørdal's KPI exporter, as processes on loopback ports."""
    procs: list[subprocess.Popen[bytes]] = []
    ports: dict[tuple[str, str], int] = {}
    try:
        probe = _deployment(prod_objects, contract.MONITORING_NAMESPACE, contract.PROBE_EXPORTER_NAME)
        container = probe["spec"]["template"]["spec"]["containers"][0]
        port = _free_port()
        args = _replace_arg(container["args"], "--port", str(port))
        args += ["--addr", "127.0.0.1", "--url-pattern", endpoints, "--interval", "1", "--timeout", "10"]
        env = {**os.environ, **{e["name"]: e["value"] for e in container["env"] if "value" in e}}
        procs.append(subprocess.Popen([EPJ, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        ports[(contract.MONITORING_NAMESPACE, contract.PROBE_EXPORTER_NAME)] = port

        kpi = _deployment(prod_objects, "kommune-5035", contract.KPI_EXPORTER_NAME)
        container = kpi["spec"]["template"]["spec"]["containers"][0]
        port = _free_port()
        args = [*_replace_arg(container["args"], "--port", str(port)), "--addr", "127.0.0.1"]
        env = {**os.environ, **{e["name"]: e["value"] for e in container["env"] if "value" in e}}
        env[contract.ENV_KPI_DSN] = pg_dsn  # the tenant's database, here a fresh local one
        env.pop(contract.ENV_DB_CREDENTIALS_DIR, None)  # trust authentication on loopback
        procs.append(subprocess.Popen([EPJ, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        ports[("kommune-5035", contract.KPI_EXPORTER_NAME)] = port
        for proc, port in zip(procs, ports.values(), strict=True):
            _wait_http(f"http://127.0.0.1:{port}/metrics", proc, f"exporter on {port}")
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _scrape_configs(
    prod_objects: list[Obj], helpers: Any, ports: dict[tuple[str, str], int]
) -> tuple[list[dict[str, Any]], set[str]]:
    """Static scrape configs equivalent to the rendered monitors, for the targets running here."""
    by_job: dict[str, list[dict[str, Any]]] = {}
    for target in helpers.scrape_targets(prod_objects):
        port = ports.get((target["namespace"], target["deployment"]))
        if port is None:
            continue
        labels = {"namespace": target["namespace"], **target["labels"]}
        by_job.setdefault(target["job"], []).append({"targets": [f"127.0.0.1:{port}"], "labels": labels})
    configs = [
        {"job_name": job, "metrics_path": contract.METRICS_PATH, "static_configs": statics}
        for job, statics in sorted(by_job.items())
    ]
    return configs, set(by_job)


@pytest.fixture()
def prometheus(
    prod_objects: list[Obj],
    helpers: Any,
    exporters: dict[tuple[str, str], int],
    tmp_path: Path,
    start_daemon: Callable[[list[str], str, str], str],
) -> str:
    rules = []
    for obj in helpers.of_kind(prod_objects, "PrometheusRule"):
        for group in obj["spec"]["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["for"] = "0s"  # see the module docstring
            rules.append(group)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rules}, sort_keys=False))
    scrape_configs, jobs = _scrape_configs(prod_objects, helpers, exporters)
    assert jobs == {contract.PROBE_EXPORTER_NAME, contract.KPI_EXPORTER_NAME}
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yml")],
        "scrape_configs": scrape_configs,
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    return start_daemon(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        "prometheus",
        f"http://127.0.0.1:{port}",
    )


def _firing(base: str, name: str) -> list[dict[str, Any]]:
    alerts = _get(f"{base}/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]


def _until(check: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(1)


def test_a_stopped_clinical_endpoint_fires_its_alert_with_tenant_and_a_resolving_runbook(prometheus: str) -> None:
    # The rendered rules load in a real Prometheus (no group failed to parse or evaluate).
    groups = _get(f"{prometheus}/api/v1/rules")["data"]["groups"]
    assert {g["name"] for g in groups} >= {"epj-probes", "epj-platform", "epj-migration", "epj-workloads"}

    # Both exporters are scraped under the job names the rules use, and every endpoint answers.
    def scraped_up() -> list[dict[str, Any]]:
        result = _get(f"{prometheus}/api/v1/query?query=up")["data"]["result"]
        return result if {r["value"][1] for r in result} == {"1"} and len(result) == 2 else []

    up = _until(scraped_up) or _get(f"{prometheus}/api/v1/query?query=up")["data"]["result"]
    assert {r["metric"]["job"]: r["value"][1] for r in up} == {"epj-probe-exporter": "1", "epj-kpi-exporter": "1"}
    query = urllib.parse.urlencode({"query": 'epj_probe_success{kind="clinical", tenant="5035", service="journal"}'})
    before = _until(lambda: _get(f"{prometheus}/api/v1/query?{query}")["data"]["result"])
    assert before and before[0]["value"][1] == "1"
    assert not _firing(prometheus, "EpjClinicalEndpointDown")

    _Endpoints.stopped.add(STOPPED)

    firing = _until(lambda: _firing(prometheus, "EpjClinicalEndpointDown"))
    assert len(firing) == 1, firing
    labels, annotations = firing[0]["labels"], firing[0]["annotations"]
    assert (labels["tenant"], labels["service"]) == STOPPED
    assert labels["severity"] == "critical" and labels["scope"] == "clinical"
    assert "5035" in annotations["summary"]
    base = load_stack_config("prod").runbook_base_url
    url = annotations["runbook_url"]
    assert url.startswith(base + "/") and ".invalid" not in url
    path = ROOT / url.removeprefix(base + "/")
    assert path.is_file(), url
    assert path.read_text(encoding="utf-8").startswith("# EpjClinicalEndpointDown\n")
