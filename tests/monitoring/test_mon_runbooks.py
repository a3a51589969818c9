"""Every alert's runbook_url resolves to a runbook file in runbooks/ (written by the runbooks area)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from epj.monitoring.naming import runbook_base_url
from epj.monitoring.rules import alert_runbook_path, all_alerts


def test_every_runbook_url_resolves_to_a_file(repo_root: Path) -> None:
    base = runbook_base_url("https://git.example.test/epj-platform/-/blob/main")
    missing = []
    for alert in all_alerts():
        url = alert.annotations(base)["runbook_url"]
        assert url.startswith(base + "/")
        relative = url.removeprefix(base + "/")
        assert relative == alert_runbook_path(alert.name) and urlparse(url).scheme == "https"
        if not (repo_root / relative).is_file():
            missing.append(relative)
    assert not missing, f"{len(set(missing))} runbooks missing, e.g. {sorted(set(missing))[:5]}"
