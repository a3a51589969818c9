"""``epj operator run`` serves kopf's liveness endpoint where the cluster's Deployment probes it."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.operator.runner import default_liveness_endpoint

runner = CliRunner()


@pytest.fixture()
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stand-ins for the cluster login and kopf, so only the command line's choices are observed."""
    import epj.operator.app as operator_app
    import epj.operator.kube as kube
    import epj.operator.runner as runner_module

    seen: dict[str, Any] = {}

    async def connect(server: str | None = None) -> object:
        return object()

    async def run_operator(ctx: Any, **options: Any) -> None:
        seen.update(options)

    monkeypatch.setattr(kube, "connect", connect)
    monkeypatch.setattr(operator_app, "context_from_environment", lambda client: None)
    monkeypatch.setattr(operator_app, "start_telemetry", lambda: None)
    monkeypatch.setattr(runner_module, "run_operator", run_operator)
    return seen


def test_health_port_env_switches_on_kopfs_liveness_endpoint(
    captured: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPJ_OPERATOR_HEALTH_PORT", "8080")
    result = runner.invoke(app, ["operator", "run", "--namespace", "epj-system"])
    assert result.exit_code == 0, result.output
    assert captured["liveness"] == "http://0.0.0.0:8080/healthz"
    assert captured["standalone"] is False and list(captured["namespaces"]) == ["epj-system"]


def test_explicit_liveness_wins_and_none_without_the_env(
    captured: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EPJ_OPERATOR_HEALTH_PORT", raising=False)
    result = runner.invoke(app, ["operator", "run", "-n", "epj-system"])
    assert result.exit_code == 0, result.output
    assert captured["liveness"] is None
    monkeypatch.setenv("EPJ_OPERATOR_HEALTH_PORT", "8080")
    result = runner.invoke(app, ["operator", "run", "-n", "x", "--liveness", "http://127.0.0.1:9/healthz"])
    assert result.exit_code == 0, result.output
    assert captured["liveness"] == "http://127.0.0.1:9/healthz"


def test_a_bad_health_port_is_a_clear_error(captured: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPJ_OPERATOR_HEALTH_PORT", "http")
    result = runner.invoke(app, ["operator", "run", "-n", "epj-system"])
    assert result.exit_code == 1
    assert "EPJ_OPERATOR_HEALTH_PORT='http' is not a TCP port" in result.output
    assert "liveness" not in captured
    with pytest.raises(ValueError):
        default_liveness_endpoint({"EPJ_OPERATOR_HEALTH_PORT": "70000"})
