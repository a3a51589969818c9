"""Where the no-critical-alerts gate learns what is firing: an ``AlertSource`` the adapter provides.

The kopf operator reads Alertmanager's API v2 (``GET /api/v2/alerts``, alerts labelled
``tenant=<kommunenummer>``) and can turn the JSON into :class:`Alert` with
:func:`alerts_from_alertmanager`; the rehearsal uses :class:`NoAlerts` or the scenario's
injected alerts (:class:`ScenarioAlerts`). ``None`` means "source unavailable": the gate then
has no evidence and times out rather than passing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from epj.golive.model import Alert


class AlertSource(Protocol):
    """Alerts firing for a tenant at ``now`` (None when the source cannot be read)."""

    def firing(self, kommunenummer: str, now: dt.datetime) -> tuple[Alert, ...] | None: ...


class NoAlerts:
    """Nothing ever fires (a rehearsal without injected alerts)."""

    def firing(self, kommunenummer: str, now: dt.datetime) -> tuple[Alert, ...] | None:
        return ()


class ScenarioAlerts:
    """The alerts a scenario injects (see :mod:`epj.golive.scenario`)."""

    def __init__(self, scenario: Any) -> None:
        self.scenario = scenario

    def firing(self, kommunenummer: str, now: dt.datetime) -> tuple[Alert, ...] | None:
        alerts: tuple[Alert, ...] = self.scenario.alerts(kommunenummer, now)
        return alerts


def alerts_from_alertmanager(payload: Iterable[Mapping[str, Any]], kommunenummer: str) -> tuple[Alert, ...]:
    """Active, unsilenced alerts for ``kommunenummer`` from an Alertmanager API v2 ``/api/v2/alerts`` response."""
    found = []
    for item in payload:
        labels = item.get("labels") or {}
        state = (item.get("status") or {}).get("state", "active")
        if labels.get("tenant") != kommunenummer or state != "active":
            continue
        summary = (item.get("annotations") or {}).get("summary")
        found.append(
            Alert(
                name=str(labels.get("alertname", "unnamed")), severity=str(labels.get("severity", "")), summary=summary
            )
        )
    return tuple(sorted(found, key=lambda a: (a.severity != "critical", a.name)))
