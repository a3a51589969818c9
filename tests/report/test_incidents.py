"""Critical-alert episodes and downtime from Prometheus' query_range answer."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from epj.report.usage import FiringEpisode, critical_episodes, downtime_minutes

T0 = int(dt.datetime(2026, 10, 1, 3, 0, tzinfo=dt.UTC).timestamp())


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, list[str]]]] = []

    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        _Handler.seen.append(query)
        burn = [[T0 + 60 * i, "1"] for i in range(18)] + [[T0 + 86_400 + 60 * i, "1"] for i in range(5)]
        probe = [[T0 + 600 + 60 * i, "1"] for i in range(3)]
        body = {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [
                    {"metric": {"alertname": "EpjMedicationAdministrationErrorBudgetBurn"}, "values": burn},
                    {"metric": {"alertname": "EpjJournalProbeFailing"}, "values": probe},
                ],
            },
        }
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def fake_prometheus() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_episodes_are_grouped_and_downtime_counts_overlaps_once(fake_prometheus: str) -> None:
    episodes = critical_episodes(fake_prometheus, "5035", "2026-10", now=dt.datetime(2026, 11, 5, tzinfo=dt.UTC))
    assert [(e.alert, e.minutes) for e in episodes] == [
        ("EpjMedicationAdministrationErrorBudgetBurn", 18),
        ("EpjJournalProbeFailing", 3),
        ("EpjMedicationAdministrationErrorBudgetBurn", 5),
    ]
    assert downtime_minutes(episodes) == 23  # the 3-minute probe episode lies inside the first one
    query = _Handler.seen[-1]
    assert query["query"] == ['ALERTS{alertstate="firing", severity="critical", tenant="5035"}']
    assert query["end"] == [str(int(dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()))]


def test_tenant_must_be_a_kommunenummer() -> None:
    with pytest.raises(ValueError, match="four digits"):
        critical_episodes("http://127.0.0.1:1", '5035"} or vector(1) #', "2026-10")


def test_downtime_of_nothing_is_zero() -> None:
    assert downtime_minutes([]) == 0
    one = FiringEpisode("EpjJournalClinicalEndpointDown", "critical", dt.datetime(2026, 10, 1, tzinfo=dt.UTC), 7)
    assert downtime_minutes([one, one]) == 7


def test_latency_and_tooling_alerts_are_incidents_but_not_downtime() -> None:
    at = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    slow = FiringEpisode("EpjJournalLatencyBudgetBurn", "critical", at, 40)
    stalled = FiringEpisode("EpjGoLiveStalled", "critical", at, 90)
    down = FiringEpisode("EpjMedicationAdministrationErrorBudgetBurn", "critical", at + dt.timedelta(hours=2), 12)
    assert downtime_minutes([slow, stalled, down]) == 12


def test_a_whole_month_is_asked_for_in_chunks_prometheus_accepts(fake_prometheus: str) -> None:
    _Handler.seen.clear()
    episodes = critical_episodes(fake_prometheus, "5035", "2026-10", now=dt.datetime(2026, 11, 5, tzinfo=dt.UTC))
    assert episodes  # not "unknown" because the month has 44,640 one-minute steps
    spans = [(int(q["start"][0]), int(q["end"][0]), int(q["step"][0])) for q in _Handler.seen]
    assert all((end - start) / step <= 11_000 for start, end, step in spans)
    assert spans[0][0] == int(dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp())
    assert spans[-1][1] == int(dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp())
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # no gap between chunks
    assert len(spans) == 5  # 44,640 minutes in chunks of 10,000
