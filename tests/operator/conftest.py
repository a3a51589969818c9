"""Fixtures for the operator's e2e tests: the kmock emulator with our CRDs, a simulated clock, the operator.

``cluster`` serves an emulated Kubernetes API on loopback (CRDs, namespaces, events, Jobs,
pods, ConfigMaps and a fake Alertmanager endpoint), with the clock 30 days before the
wave's pre-project start. Tests start the real kopf operator with
``await cluster.start_operator()`` and stop/restart it as they need. Helpers on the
cluster create and patch objects, mark Jobs finished as the Job controller would and
record approvals exactly as the CLI does (:mod:`epj.operator.testing`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from epj.golive.schedule import Schedule
from epj.operator.testing import LocalCluster, local_cluster

GO_LIVE = dt.date(2027, 9, 6)
WAVE_NAME = "wave-2027-q3"
TENANTS = ("5035", "5031", "5006")


def wave_spec(**overrides: Any) -> dict[str, Any]:
    """Three principals: Malvik (5031) depends on Stjørdal (5035); Steinkjer (5006) is independent."""
    spec: dict[str, Any] = {
        "goLiveDate": GO_LIVE.isoformat(),
        "productionWindow": {"label": "2027-Q3", "start": "2027-08-16", "end": "2027-10-29"},
        "members": [
            {"kommunenummer": "5035"},
            {"kommunenummer": "5031", "dependsOn": ["5035"]},
            {"kommunenummer": "5006"},
        ],
    }
    spec.update(overrides)
    return spec


@pytest.fixture()
def schedule() -> Schedule:
    return Schedule.for_date(GO_LIVE)


@pytest.fixture()
async def cluster(schedule: Schedule) -> AsyncIterator[LocalCluster]:
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    async with local_cluster(schedule.pre_project_at - dt.timedelta(days=30)) as local:
        yield local
