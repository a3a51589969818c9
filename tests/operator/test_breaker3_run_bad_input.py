"""brk3: ``epj operator run`` given a bad environment stops at once with one plain line and a non-zero exit.

Each mistake here let the operator start wrong or fail as "unexpected …": a misspelt key in
``EPJ_APPROVER_ROLES`` (the defaults stayed in force without a word), a metrics port out of range or
taken, no credentials at all, and a namespace that does not exist (kopf watched it silently forever).
The expected words are written here by hand.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.golive.approvals import RoleMapping
from epj.operator.emulator import emulator_thread
from epj.operator.kube import KubeClient
from epj.operator.runner import missing_namespaces

runner = CliRunner()


@pytest.fixture()
def quiet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """No telemetry, no kubeconfig and no service account; run_operator only records that it was reached."""
    import epj.operator.app as operator_app
    import epj.operator.runner as runner_module

    reached: dict[str, Any] = {}

    async def run_operator(ctx: Any, **options: Any) -> None:
        reached.update(options)

    monkeypatch.setattr(operator_app, "start_telemetry", lambda: None)
    monkeypatch.setattr(runner_module, "run_operator", run_operator)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("EPJ_APPROVER_ROLES", "EPJ_METRICS_PORT", "EPJ_OPERATOR_HEALTH_PORT", "EPJ_WEBHOOK_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("EPJ_DEBUG", raising=False)
    return reached


def _one_error(output: str) -> str:
    errors = {line for line in output.splitlines() if line.startswith("error:")}
    assert len(errors) == 1, output
    assert "unexpected" not in output and "Traceback" not in output, output
    return errors.pop()


@pytest.mark.parametrize(
    ("mapping", "words"),
    [
        ('{"group": {"sso:cutover": ["cutover-lead"]}}', "group"),  # singular: the defaults stayed in force
        ('{"groups": {"sso:cutover": ["cutover-lead"]}, "prefx": null}', "prefx"),  # the prefix was kept
    ],
    ids=["groups-misspelt", "prefix-misspelt"],
)
def test_a_misspelt_key_of_the_role_mapping_stops_the_start(
    quiet: dict[str, Any], monkeypatch: pytest.MonkeyPatch, mapping: str, words: str
) -> None:
    monkeypatch.setenv("EPJ_APPROVER_ROLES", mapping)
    result = runner.invoke(app, ["operator", "run", "-n", "epj-system"])
    assert result.exit_code == 1, result.output
    line = _one_error(result.output)
    assert "EPJ_APPROVER_ROLES" in line and words in line
    assert not quiet
    with pytest.raises(ValueError):
        RoleMapping.from_json(mapping)


def test_the_explicit_map_alone_is_still_accepted() -> None:
    mapping = RoleMapping.from_json('{"groups": {"sso:cutover": ["cutover-lead"]}, "prefix": null}')
    assert {str(r) for r in mapping.roles(["sso:cutover", "epj-approver:project-lead"])} == {"cutover-lead"}


def test_a_metrics_port_out_of_range_is_a_usage_error(quiet: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPJ_METRICS_PORT", "99999")
    result = runner.invoke(app, ["operator", "run", "-n", "epj-system"])
    assert result.exit_code == 2, result.output
    assert "--metrics-port" in _one_error(result.output)
    assert not quiet


def test_a_metrics_port_in_use_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The real telemetry start (the port is taken, so nothing is left serving); no cluster is reached."""
    import epj.operator.runner as runner_module

    reached: list[object] = []

    async def run_operator(ctx: Any, **options: Any) -> None:
        reached.append(ctx)

    monkeypatch.setattr(runner_module, "run_operator", run_operator)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("EPJ_APPROVER_ROLES", raising=False)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["operator", "run", "-n", "epj-system", "--metrics-port", str(port)])
    assert result.exit_code == 1, result.output
    assert f"cannot serve /metrics on port {port}" in _one_error(result.output)
    assert not reached


def test_no_credentials_is_one_plain_line(quiet: dict[str, Any]) -> None:
    result = runner.invoke(app, ["operator", "run", "-n", "epj-system"])
    assert result.exit_code == 1, result.output
    assert "no Kubernetes credentials" in _one_error(result.output)
    assert not quiet


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with emulator_thread() as (_, url):
        yield url


def test_an_unknown_namespace_stops_the_start(served: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import epj.operator.app as operator_app

    monkeypatch.setattr(operator_app, "start_telemetry", lambda: None)
    for name in ("EPJ_APPROVER_ROLES", "EPJ_METRICS_PORT", "EPJ_OPERATOR_HEALTH_PORT", "EPJ_WEBHOOK_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\n"
        f'clusters: [{{name: c, cluster: {{server: "{served}"}}}}]\n'
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("KUBECONFIG", str(config))
    result = runner.invoke(app, ["operator", "run", "--standalone", "-n", "epj-sytem"])
    assert result.exit_code == 1, result.output
    line = _one_error(result.output)
    assert "epj-sytem" in line and "does not exist" in line


def test_missing_namespaces_counts_only_a_definite_absence(served: str) -> None:
    async def check() -> tuple[list[str], list[str]]:
        async with KubeClient(served) as client:
            here = await missing_namespaces(client, ["epj-system", "kommune-*", "nowhere"])
        async with KubeClient("http://127.0.0.1:1") as dead:
            unknown = await missing_namespaces(dead, ["nowhere"])
        return here, unknown

    here, unknown = asyncio.run(check())
    assert here == ["nowhere"]
    assert unknown == []  # an API that does not answer says nothing about the namespace
