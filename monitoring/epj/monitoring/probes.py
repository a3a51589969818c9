"""Synthetic probes: each tenant's clinical endpoints and each national integration, on a schedule.

Burn-rate alerts need user traffic; a small municipality at night has none. The
probe exporter asks every endpoint itself, so a quiet tenant's outage is still
seen (``EpjClinicalEndpointDown``), and a national integration failing for every
probe at once is recognised as one platform-wide cause (``EpjNationalIntegrationDown``).

Metrics (labels ``tenant``, ``service``, ``kind`` = clinical | integration; national
integrations are probed once from the platform, so their ``tenant`` is empty):
``epj_probe_success`` (0/1), ``epj_probe_duration_seconds``,
``epj_probe_last_success_timestamp_seconds``.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epj import contract
from epj.catalog import ServiceCatalog
from epj.telemetry import metrics as names
from epj.telemetry.labels import safe_labels
from epj.tenants.model import Tenant

# Where a tenant's service answers inside the cluster; {tenant}, {namespace}, {service}, {health_path}.
DEFAULT_URL_PATTERN = "http://{service}.{namespace}.svc.cluster.local:{port}{health_path}"


@dataclass(frozen=True)
class ProbeTarget:
    tenant: str  # "" for platform-wide (national integration) probes
    service: str
    kind: str  # clinical | integration
    url: str


def clinical_targets(
    tenants: Iterable[Tenant], catalog: ServiceCatalog, url_pattern: str = DEFAULT_URL_PATTERN
) -> list[ProbeTarget]:
    """One target per tenant and deployed app service (with a health path) the tenant subscribes to."""
    out = []
    for tenant in tenants:
        for name in tenant.services:
            svc = catalog.services.get(name)
            if svc is None or svc.kind != "app" or not svc.deployed or not svc.health_path:
                continue
            url = url_pattern.format(
                tenant=tenant.kommunenummer,
                namespace=tenant.namespace,
                service=svc.name,
                port=svc.port,
                health_path=svc.health_path,
            )
            out.append(ProbeTarget(tenant.kommunenummer, svc.name, "clinical", url))
    return out


def integration_targets(catalog: ServiceCatalog, urls: Mapping[str, str]) -> list[ProbeTarget]:
    """National integrations with a configured probe URL (``service -> URL``); unknown names are an error."""
    out = []
    for service, url in sorted(urls.items()):
        svc = catalog.services.get(service)
        if svc is None or svc.kind != "integration":
            raise ValueError(f"--integration {service}: not an integration in the service catalog")
        out.append(ProbeTarget("", service, "integration", url))
    return out


def http_check(url: str, timeout: float) -> bool:
    """True when the endpoint answers 2xx within ``timeout``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


class Prober:
    """Runs every target's check concurrently and records the results as gauges in ``registry``."""

    def __init__(
        self,
        targets: list[ProbeTarget],
        registry: Any,
        timeout: float = 5.0,
        check: Callable[[str, float], bool] = http_check,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from prometheus_client import Gauge

        self.targets = targets
        self.timeout = timeout
        self.check = check
        self.clock = clock
        labels = ["tenant", "service", "kind"]
        self.success = Gauge(names.PROBE_SUCCESS, "1 if the last probe succeeded", labels, registry=registry)
        self.duration = Gauge(names.PROBE_DURATION, "Duration of the last probe", labels, registry=registry)
        self.last_success = Gauge(
            names.PROBE_LAST_SUCCESS, "Unix time of the last successful probe", labels, registry=registry
        )
        self._labels = {t: safe_labels(tenant=t.tenant, service=t.service, kind=t.kind) for t in targets}

    def _probe(self, target: ProbeTarget) -> None:
        started = time.perf_counter()
        ok = self.check(target.url, self.timeout)
        elapsed = time.perf_counter() - started
        lbl = self._labels[target]
        self.success.labels(**lbl).set(1 if ok else 0)
        self.duration.labels(**lbl).set(elapsed)
        if ok:
            self.last_success.labels(**lbl).set(self.clock())

    def run_once(self) -> None:
        if not self.targets:
            return
        with ThreadPoolExecutor(max_workers=min(16, len(self.targets))) as pool:
            list(pool.map(self._probe, self.targets))

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        while not stop.is_set():
            self.run_once()
            stop.wait(interval)


def certificate_not_after(path: Path) -> float | None:
    """Unix time the PEM certificate at ``path`` expires, or None when it cannot be read or parsed."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    return cert.not_valid_after_utc.timestamp()


class CertificateCollector:
    """``epj_certificate_expiry_timestamp_seconds{certificate}`` from PEM files, read at every scrape.

    The files are the platform's certificates mounted from Secrets (health network, HelseID), so a
    renewed certificate shows at the next scrape. An unreadable or missing file reports ``0`` (long
    expired), so the certificate alert says so instead of the series silently vanishing.
    """

    def __init__(self, files: Mapping[str, str]) -> None:
        for name in files:
            if name not in contract.CERTIFICATES:
                raise ValueError(
                    f"--certificate {name}: unknown certificate; use one of {', '.join(contract.CERTIFICATES)}"
                )
        self.files = dict(files)

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(
            contract.CERTIFICATE_EXPIRY,
            "Unix time the certificate expires (0: unreadable)",
            labels=[contract.CERTIFICATE_LABEL],
        )
        for name, path in sorted(self.files.items()):
            family.add_metric([name], certificate_not_after(Path(path)) or 0.0)
        yield family


def serve(
    targets: list[ProbeTarget],
    port: int,
    addr: str = "0.0.0.0",
    interval: float = 30.0,
    timeout: float = 5.0,
    certificates: Mapping[str, str] | None = None,
) -> tuple[Any, threading.Thread, threading.Event]:
    """Start probing in a thread and serve ``/metrics``; returns ``(server, probe thread, stop event)``."""
    from prometheus_client import CollectorRegistry

    from epj.telemetry.setup import start_metrics_server

    registry = CollectorRegistry()
    if certificates:
        registry.register(CertificateCollector(certificates))  # type: ignore[arg-type]
    prober = Prober(targets, registry, timeout=timeout)
    prober.run_once()
    stop = threading.Event()
    thread = threading.Thread(target=prober.run_forever, args=(interval, stop), name="epj-probes", daemon=True)
    thread.start()
    server, _ = start_metrics_server(port, addr=addr, registry=registry)
    return server, thread, stop
