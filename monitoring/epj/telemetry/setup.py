"""Tracer provider and metrics endpoint setup (see the package docstring for why)."""

from __future__ import annotations

import os
import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

_lock = threading.Lock()
_provider: TracerProvider | None = None


def setup_tracing(service_name: str, *, endpoint: str | None = None, force: bool = False) -> TracerProvider:
    """Install (once) a TracerProvider named ``service_name``.

    Spans are exported over OTLP/HTTP when ``endpoint`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``
    is set; otherwise they are recorded nowhere (no console noise in tests or CLIs).
    Calling again returns the installed provider unless ``force`` (tests) is given.
    """
    global _provider
    with _lock:
        if _provider is not None and not force:
            return _provider
        provider = TracerProvider(resource=Resource.create({"service.name": service_name, "service.namespace": "epj"}))
        target = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if target:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            traces_url = target if target.rstrip("/").endswith("/v1/traces") else target.rstrip("/") + "/v1/traces"
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url)))
        if _provider is None:
            trace.set_tracer_provider(provider)
        _provider = provider
        return provider


def tracer(name: str) -> trace.Tracer:
    """A tracer from the installed provider (or OpenTelemetry's no-op default before setup)."""
    return (_provider or trace.get_tracer_provider()).get_tracer(name)


def start_metrics_server(port: int, addr: str = "0.0.0.0", registry: Any = None) -> tuple[Any, threading.Thread]:
    """Serve ``/metrics`` for ``registry`` (default: the global one) on ``addr:port``.

    Returns ``(server, thread)`` so callers (and tests) can ``server.shutdown()``. Port 0
    picks a free port: read it from ``server.server_port``.
    """
    from prometheus_client import REGISTRY, start_http_server

    server, thread = start_http_server(port, addr=addr, registry=registry or REGISTRY)
    return server, thread
