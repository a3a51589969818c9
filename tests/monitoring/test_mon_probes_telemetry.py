"""Probe exporter and the shared telemetry setup."""

from __future__ import annotations

import http.server
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from epj.catalog import load_catalog
from epj.monitoring.probes import Prober, ProbeTarget, clinical_targets, integration_targets
from epj.telemetry import setup_tracing, start_metrics_server
from epj.tenants import load_tenants


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if "/journal/" in self.path else 503)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture()
def health_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def test_targets_come_from_the_tenant_files_and_the_catalog() -> None:
    catalog = load_catalog()
    stjordal = load_tenants().get("5035")
    targets = clinical_targets([stjordal], catalog, "http://x/{tenant}/{service}{health_path}")
    services = {t.service for t in targets}
    assert services == {n for n in stjordal.services if catalog.services[n].kind == "app"}
    assert all(t.url == f"http://x/5035/{t.service}/healthz" and t.tenant == "5035" for t in targets)
    with pytest.raises(ValueError, match="not an integration"):
        integration_targets(catalog, {"journal": "http://x"})


def test_prober_records_success_latency_and_last_success(health_server: int) -> None:
    registry = CollectorRegistry()
    base = f"http://127.0.0.1:{health_server}"
    targets = [
        ProbeTarget("5035", "journal", "clinical", f"{base}/5035/journal/healthz"),
        ProbeTarget("5035", "medication-administration", "clinical", f"{base}/5035/medication-administration/healthz"),
        ProbeTarget("", "kjernejournal", "integration", "http://127.0.0.1:9/unreachable"),
    ]
    Prober(targets, registry, timeout=2, clock=lambda: 1_700_000_000.0).run_once()
    get = registry.get_sample_value
    assert get("epj_probe_success", {"tenant": "5035", "service": "journal", "kind": "clinical"}) == 1
    labels = {"tenant": "5035", "service": "medication-administration", "kind": "clinical"}
    assert get("epj_probe_success", labels) == 0
    assert get("epj_probe_last_success_timestamp_seconds", labels) is None
    ok = {"tenant": "5035", "service": "journal", "kind": "clinical"}
    assert get("epj_probe_last_success_timestamp_seconds", ok) == 1_700_000_000.0
    assert (get("epj_probe_duration_seconds", ok) or 0) > 0
    assert get("epj_probe_success", {"tenant": "", "service": "kjernejournal", "kind": "integration"}) == 0


def test_metrics_server_serves_the_registry() -> None:
    registry = CollectorRegistry()
    prober = Prober([], registry)
    prober.success.labels(tenant="5035", service="journal", kind="clinical").set(1)
    server, _ = start_metrics_server(0, addr="127.0.0.1", registry=registry)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'epj_probe_success{kind="clinical",service="journal",tenant="5035"} 1.0' in body
    assert body == generate_latest(registry).decode()


def test_tracing_exports_over_otlp_only_when_an_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    quiet = setup_tracing("epj-test", force=True)
    assert quiet.resource.attributes["service.name"] == "epj-test"
    assert not quiet._active_span_processor._span_processors  # nothing exported, nothing printed
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    loud = setup_tracing("epj-test", force=True)
    processors = loud._active_span_processor._span_processors
    assert len(processors) == 1
    assert processors[0].span_exporter._endpoint == "http://127.0.0.1:4318/v1/traces"
    loud.shutdown()


def test_probe_exporter_cli_refuses_unknown_integrations() -> None:
    from typer.testing import CliRunner

    from epj.cli import app

    result = CliRunner().invoke(
        app, ["monitoring", "probe-exporter", "--integration", "journal=http://x", "--port", "0"]
    )
    assert result.exit_code == 2
    assert "not an integration" in result.output
    result = CliRunner().invoke(app, ["monitoring", "probe-exporter", "--integration", "kjernejournal"])
    assert result.exit_code != 0
