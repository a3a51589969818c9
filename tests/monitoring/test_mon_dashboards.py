"""Dashboards built with grafana-foundation-sdk: the four boards, the tenant variable, known metrics only."""

from __future__ import annotations

import json
import re
from pathlib import Path

from epj.catalog import load_catalog
from epj.monitoring.dashboards import dashboards


def _exprs(board: dict[str, object]) -> list[str]:
    return [t["expr"] for p in board["panels"] for t in (p.get("targets") or [])]  # type: ignore[attr-defined]


def test_four_dashboards_with_stable_uids() -> None:
    boards = dashboards(load_catalog())
    assert {b["uid"] for b in boards.values()} == {
        "epj-platform-overview",
        "epj-tenant-clinical",
        "epj-golive-waves",
        "epj-migration",
    }
    for board in boards.values():
        assert board["timezone"] == "Europe/Oslo"


def test_tenant_dashboard_has_a_tenant_variable_used_by_every_query() -> None:
    board = dashboards(load_catalog())["tenant-clinical.json"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["tenant"]["type"] == "query"
    for expr in _exprs(board):
        assert 'tenant="$tenant"' in expr, expr


def test_queries_use_only_platform_metric_names(rendered: Path) -> None:
    known = re.compile(r"^(epj[:_]|ALERTS$|up$|vector$|count$|sum$|max$|rate$|increase$|label_values$|time$)")
    for path in (rendered / "dashboards").glob("*.json"):
        board = json.loads(path.read_text())
        for expr in _exprs(board):
            for word in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[({]", expr):
                assert known.match(word) or word in {"by", "on", "group_left"}, (path.name, word)
    overview = json.loads((rendered / "dashboards" / "platform-overview.json").read_text())
    for service in load_catalog().services:
        assert any(f'service="{service}"' in e for e in _exprs(overview)), service
