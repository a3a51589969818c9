"""The operator as a kopf module: ``kopf run -m epj.operator.app [--standalone] -n NS``.

Registers every handler on kopf's default registry and builds the operator context at
start-up from the environment (``EPJ_ALERTMANAGER_URL``, ``EPJ_MIGRATION_IMAGE``,
``EPJ_METRICS_PORT``). ``epj operator run`` does the same without the module import dance.
"""

from __future__ import annotations

import os
from typing import Any

import kopf

from epj import contract
from epj.operator import admission, handlers
from epj.operator.context import DEFAULT_IMAGE, OperatorContext
from epj.operator.kube import connect
from epj.operator.runner import operator_settings

handlers.register(kopf.get_default_registry())
_CERTS = os.environ.get(contract.ENV_WEBHOOK_CERT_DIR) or None
if _CERTS:
    admission.register(kopf.get_default_registry())


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    ours = operator_settings()
    settings.peering.name = ours.peering.name
    settings.persistence.finalizer = ours.persistence.finalizer
    settings.persistence.progress_storage = ours.persistence.progress_storage
    settings.persistence.diffbase_storage = ours.persistence.diffbase_storage
    settings.posting.reporting_component = ours.posting.reporting_component
    if _CERTS:
        settings.admission.server = admission.webhook_server(certs=_CERTS)
    client = await connect()
    await client.__aenter__()
    memo.ctx = context_from_environment(client)
    start_telemetry()


def context_from_environment(client: Any) -> OperatorContext:
    return OperatorContext(
        client=client,
        approver_roles=admission.role_mapping(),
        alertmanager_url=os.environ.get(contract.ENV_ALERTMANAGER_URL) or None,
        image=os.environ.get(contract.ENV_MIGRATION_IMAGE) or DEFAULT_IMAGE,
    )


def start_telemetry() -> None:
    """Tracing (OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set) and ``/metrics`` on ``EPJ_METRICS_PORT``."""
    from epj.telemetry import setup_tracing, start_metrics_server

    setup_tracing("epj-golive-operator")
    port = os.environ.get(contract.ENV_METRICS_PORT)
    if port:
        start_metrics_server(int(port))
