"""Shared telemetry for every epj process: OpenTelemetry tracing and Prometheus metrics.

One setup so the operator, the migration and the exporters look the same to
on-call staff: the same ``service.name`` resource attribute, OTLP over HTTP when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (nothing exported, nothing printed when it
is not), metrics on one port (:func:`start_metrics_server`), label values checked
against an allow-list (:func:`safe_labels`) so no national id, name or note text
can leak into a label, and a log filter (:mod:`epj.telemetry.redact`).

OpenTelemetry is imported on first use of the setup functions, so importing this
package (e.g. for the metric names) stays cheap.
"""

from __future__ import annotations

from typing import Any

from epj.telemetry.labels import UnsafeLabel, safe_labels

__all__ = ["UnsafeLabel", "safe_labels", "setup_tracing", "start_metrics_server", "tracer"]


def __getattr__(name: str) -> Any:
    if name in ("setup_tracing", "start_metrics_server", "tracer"):
        from epj.telemetry import setup

        return getattr(setup, name)
    raise AttributeError(name)
