"""Alertmanager configuration generated from the tenant files and the service catalog.

Routing, in the order Alertmanager walks it:

1. **Municipality routes** (one per active tenant, ``continue: true`` so the
   platform still sees everything): clinical alerts (``scope="clinical"``) with
   ``tenant="<kommunenr>"`` go to the municipality's role addresses (IT operations
   and health-and-care); go-live and migration alerts (``scope="project"``) go to
   its project address (or IT operations). Services the catalog marks ``07-23`` or
   ``business`` only notify inside those Europe/Oslo hours; ``24/7`` always.
2. **Platform on-call**: ``critical`` pages, everything else opens a ticket;
   the same Europe/Oslo hours apply to daytime-only services.

Grouping is by ``alertname`` and ``tenant`` so one municipality's outage is one
notification, and two municipalities are never merged into one message.

Inhibition removes symptoms whose cause is already paging, always scoped with
``equal`` (see :func:`inhibit_rules`): a critical alert silences the warning of the
same alert/tenant/service; a platform-wide national integration outage silences the
per-municipality alerts of that integration, and (through the inhibit-only
``EpjDependencyDown``) the burn-rate alerts of the services that depend on it; the
operator being down silences the go-live and reconcile alerts of that same job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from epj.catalog import ServiceCatalog
from epj.tenants.model import Tenant

BUSINESS_HOURS = "oslo-business-hours"
DAYTIME = "oslo-daytime"
HOURS_INTERVAL = {"business": BUSINESS_HOURS, "07-23": DAYTIME}


@dataclass(frozen=True)
class AlertmanagerSettings:
    """Delivery endpoints; real values come from the environment's secrets, never from tenant files."""

    smarthost: str = "smtp.epj-platform.invalid:587"
    sender: str = "alertmanager@epj-platform.invalid"
    platform_oncall_email: str = "platform-oncall@epj-platform.invalid"
    platform_tickets_email: str = "platform-tickets@epj-platform.invalid"
    pager_webhook_url: str = "http://oncall-bridge.epj-monitoring.svc:8080/page"


def tenant_receiver(tenant: Tenant) -> str:
    return f"kommune-{tenant.kommunenummer}"


def tenant_project_receiver(tenant: Tenant) -> str:
    return f"kommune-{tenant.kommunenummer}-project"


def _email(to: str) -> dict[str, Any]:
    return {"to": to, "send_resolved": True}


def time_intervals() -> list[dict[str, Any]]:
    """Europe/Oslo hours for services the catalog marks as daytime or business-hours only."""
    return [
        {
            "name": BUSINESS_HOURS,
            "time_intervals": [
                {
                    "weekdays": ["monday:friday"],
                    "times": [{"start_time": "08:00", "end_time": "16:00"}],
                    "location": "Europe/Oslo",
                }
            ],
        },
        {
            "name": DAYTIME,
            "time_intervals": [{"times": [{"start_time": "07:00", "end_time": "23:00"}], "location": "Europe/Oslo"}],
        },
    ]


def _hours_routes() -> list[dict[str, Any]]:
    """Child routes that restrict delivery of daytime-only services to their hours (receiver inherited)."""
    return [
        {"matchers": [f'hours="{hours}"'], "active_time_intervals": [interval]}
        for hours, interval in HOURS_INTERVAL.items()
    ]


#: Alerts that exist only to inhibit others (severity info, routed to no one).
INHIBIT_ONLY = "EpjDependencyDown"
NULL_RECEIVER = "null"


def inhibit_rules(catalog: ServiceCatalog) -> list[dict[str, Any]]:
    """Every rule is scoped with ``equal``: a cause silences only the symptoms that share its labels.

    * a critical alert silences the warning/info of the same alert, tenant, service and certificate;
    * the operator being down (``job="epj-operator"``) silences the stall and reconcile alerts computed
      from that same job's series;
    * a national integration down everywhere silences the per-municipality alerts *of that integration*;
    * ``EpjDependencyDown`` (one per service that depends on a down integration, ``service`` = the
      dependent) silences only that dependent's error/latency burn-rate alerts: its endpoint-down,
      crash-loop and OOM alerts still page, because a national outage does not explain them.
    """
    return [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity=~"warning|info"'],
            "equal": ["alertname", "tenant", "service", "certificate"],
        },
        {
            "source_matchers": ['alertname="EpjOperatorDown"'],
            "target_matchers": ['alertname=~"EpjGoLiveStalled|EpjOperatorReconcileErrors"'],
            "equal": ["job"],
        },
        {
            "source_matchers": ['alertname="EpjNationalIntegrationDown"'],
            "target_matchers": ['scope="clinical"'],
            "equal": ["service"],
        },
        {
            "source_matchers": [f'alertname="{INHIBIT_ONLY}"'],
            "target_matchers": ['scope="clinical"', 'alertname=~"Epj.+(ErrorBudgetBurn|LatencyBudgetBurn)"'],
            "equal": ["service"],
        },
    ]


def alertmanager_config(
    tenants: tuple[Tenant, ...], catalog: ServiceCatalog, settings: AlertmanagerSettings | None = None
) -> dict[str, Any]:
    """The whole ``alertmanager.yml`` document for the given (active) tenants."""
    cfg = settings or AlertmanagerSettings()
    receivers: list[dict[str, Any]] = [
        {
            "name": "platform-oncall-page",
            "webhook_configs": [{"url": cfg.pager_webhook_url, "send_resolved": True}],
            "email_configs": [_email(cfg.platform_oncall_email)],
        },
        {"name": "platform-tickets", "email_configs": [_email(cfg.platform_tickets_email)]},
    ]
    receivers.append({"name": NULL_RECEIVER})
    routes: list[dict[str, Any]] = [{"receiver": NULL_RECEIVER, "matchers": [f'alertname="{INHIBIT_ONLY}"']}]
    for tenant in tenants:
        receivers.append(
            {
                "name": tenant_receiver(tenant),
                "email_configs": [_email(tenant.contacts.it_operations), _email(tenant.contacts.health_and_care)],
            }
        )
        receivers.append(
            {
                "name": tenant_project_receiver(tenant),
                "email_configs": [_email(tenant.contacts.project or tenant.contacts.it_operations)],
            }
        )
        routes.append(
            {
                "receiver": tenant_receiver(tenant),
                "matchers": [f'tenant="{tenant.kommunenummer}"', 'scope="clinical"'],
                "continue": True,
                "routes": _hours_routes(),
            }
        )
        routes.append(
            {
                "receiver": tenant_project_receiver(tenant),
                "matchers": [f'tenant="{tenant.kommunenummer}"', 'scope="project"'],
                "continue": True,
            }
        )
    routes.append(
        {
            "receiver": "platform-oncall-page",
            "matchers": ['severity="critical"'],
            "group_wait": "10s",
            "repeat_interval": "1h",
            "routes": _hours_routes(),
        }
    )
    routes.append({"receiver": "platform-tickets", "matchers": ['severity=~"warning|info"'], "routes": _hours_routes()})
    return {
        "global": {
            "resolve_timeout": "5m",
            "smtp_smarthost": cfg.smarthost,
            "smtp_from": cfg.sender,
            "smtp_require_tls": True,
        },
        "time_intervals": time_intervals(),
        "route": {
            "receiver": "platform-tickets",
            "group_by": ["alertname", "tenant"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": routes,
        },
        "inhibit_rules": inhibit_rules(catalog),
        "receivers": receivers,
    }
