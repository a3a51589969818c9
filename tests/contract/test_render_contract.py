"""The parts meet in the prod render (issue 15): what `epj render --env prod` deploys is what every part assumes.

Each test reads the prod render as the cluster would run it and checks one seam:

* every metric a rule or dashboard queries is emitted by a component the render deploys, and some
  rendered ServiceMonitor/PodMonitor scrapes that component (PromQL parsed with ``promql-parser``);
* every ``job`` a rule matches is a job the rendered monitors produce;
* every option and environment variable a deployed ``epj`` command needs is set by its Deployment;
* the namespace the planner writes RolloutWaves into, the operator watches and the CLI defaults to is one;
* every ``epj`` command in a runbook parses against the CLI.

Expectations are written from the outside: the emitted names come from the components' real
Prometheus registries, the scraped ones from the rendered monitor objects (prometheus-operator's
job-label rules, restated in conftest.py), the queried ones from parsing the rendered rule objects.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import promql_parser
import pytest
import typer
from prometheus_client import CollectorRegistry

from epj import contract
from epj.catalog import load_catalog
from epj.monitoring.dashboards import dashboards

Obj = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]

# Series Prometheus makes itself (not scraped from a component).
SYNTHETIC = {"up", "ALERTS", "ALERTS_FOR_STATE"}
# Metrics from the kube-prometheus prerequisites (kube-state-metrics); infra/README.md must name them.
PREREQUISITE_METRICS = {
    contract.KUBE_POD_WAITING_REASON: "kube-state-metrics",
    contract.KUBE_POD_LAST_TERMINATED_REASON: "kube-state-metrics",
    contract.KUBE_POD_RESTARTS: "kube-state-metrics",
    contract.KUBELET_VOLUME_AVAILABLE: "kubelet_volume_stats_available_bytes",
    contract.KUBELET_VOLUME_CAPACITY: "kubelet_volume_stats_capacity_bytes",
}
#: Emitted by each tenant's CloudNativePG instances (the instance manager's default queries and the Barman Cloud
#: plugin), scraped by the rendered PodMonitor ``epj-db`` (selector ``cnpg.io/cluster``), not by a Deployment.
DATABASE_INSTANCE_METRICS = {
    contract.BACKUP_LAST_AVAILABLE,
    contract.BACKUP_LAST_FAILED,
    contract.BACKUP_FIRST_RECOVERABILITY,
    contract.PG_ARCHIVER_FAILED,
    contract.PG_ARCHIVER_SECONDS_SINCE_LAST,
    contract.PG_IN_RECOVERY,
    contract.PG_REPLICATION_LAG,
}


# ----------------------------------------------------------------------------------------------- PromQL


def _selectors(node: Any) -> Iterator[Any]:
    """Every VectorSelector in a parsed PromQL expression."""
    if isinstance(node, promql_parser.VectorSelector):
        yield node
        return
    for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None:
            yield from _selectors(child)
    for child in getattr(node, "args", None) or []:
        yield from _selectors(child)


def _rule_exprs(objs: list[Obj]) -> tuple[list[str], set[str]]:
    """(every rule expression, every series name a recording rule produces) from the rendered PrometheusRules."""
    exprs, recorded = [], set()
    for obj in objs:
        if obj["kind"] != "PrometheusRule":
            continue
        for group in obj["spec"]["groups"]:
            for rule in group["rules"]:
                exprs.append(rule["expr"])
                if "record" in rule:
                    recorded.add(rule["record"])
    return exprs, recorded


def _dashboard_exprs() -> list[str]:
    return [
        t["expr"]
        for board in dashboards(load_catalog()).values()
        for panel in board["panels"]
        for t in panel.get("targets") or []
    ]


def _queried(exprs: list[str]) -> dict[str, list[Any]]:
    """Metric name → the selectors that query it."""
    out: dict[str, list[Any]] = {}
    for expr in exprs:
        for sel in _selectors(promql_parser.parse(expr)):
            name = sel.name or next(
                (
                    m.value
                    for m in sel.matchers.matchers
                    if m.name == "__name__" and m.op == promql_parser.MatchOp.Equal
                ),
                None,
            )
            assert name, f"a selector without a metric name: {expr}"
            out.setdefault(name, []).append(sel)
    return out


# ------------------------------------------------------------------------------------ emitting components


def _family_names(registry: CollectorRegistry) -> set[str]:
    names: set[str] = set()
    for family in registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
        else:
            names.add(family.name)
        names |= {s.name for s in family.samples}
    return names


def _emitted_by_epj(args: list[str]) -> set[str]:
    """The metric names the real code behind ``epj <args>`` registers (its own Prometheus registry)."""
    registry = CollectorRegistry()
    if args[:2] == ["operator", "run"]:
        from epj.operator.metrics import OperatorMetrics

        return _family_names(OperatorMetrics.create(registry).registry)
    if args[:2] == ["monitoring", "probe-exporter"]:
        from epj.monitoring.probes import CertificateCollector, Prober

        Prober([], registry)
        registry.register(CertificateCollector({c: "/nonexistent" for c in contract.CERTIFICATES}))  # type: ignore[arg-type]
        return _family_names(registry)
    if args[:2] == ["monitoring", "kpi-exporter"]:
        from epj.monitoring.kpi.exporter import KpiCollector

        # No database here: the collector still declares every family (and epj_kpi_up 0).
        registry.register(KpiCollector("host=127.0.0.1 port=1 dbname=none user=none connect_timeout=1"))
        return _family_names(registry)
    raise AssertionError(f"a deployed `epj {' '.join(args)}` whose metrics this test does not know")


def _emitted_by_vendor_app() -> set[str]:
    """The vendor's clinical services emit the metrics the service catalog names (the vendor contract)."""
    names: set[str] = set()
    for svc in load_catalog().services.values():
        for key, metric in svc.metrics.items():
            if key == "latency":
                names |= {f"{metric}_bucket", f"{metric}_sum", f"{metric}_count"}
            else:
                names.add(metric)
    return names


def _emitted(dep: Obj) -> set[str]:
    container = dep["spec"]["template"]["spec"]["containers"][0]
    if container.get("command") == [contract.CLI]:
        return _emitted_by_epj(container["args"])
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert labels.get(contract.COMPONENT_LABEL) == contract.COMPONENT_APP, dep["metadata"]["name"]
    return _emitted_by_vendor_app()


# --------------------------------------------------------------------------------------------------- tests


def test_prod_render_deploys_the_exporters_and_monitors(prod_objects: list[Obj], helpers: Any) -> None:
    deployments = {
        (d["metadata"]["namespace"], d["metadata"]["name"]) for d in helpers.of_kind(prod_objects, "Deployment")
    }
    tenants = sorted(
        o["metadata"]["name"]
        for o in prod_objects
        if o["kind"] == "Namespace" and o["metadata"]["name"].startswith("kommune-")
    )
    assert tenants, "prod has active tenants"
    assert ("epj-monitoring", "epj-probe-exporter") in deployments
    assert ("epj-system", "epj-operator") in deployments
    for ns in tenants:
        assert (ns, "epj-kpi-exporter") in deployments, ns
    jobs = {(t["namespace"], t["deployment"]): t["job"] for t in helpers.scrape_targets(prod_objects)}
    assert jobs[("epj-system", "epj-operator")] == "epj-operator"
    assert jobs[("epj-monitoring", "epj-probe-exporter")] == "epj-probe-exporter"
    for ns in tenants:
        assert jobs[(ns, "epj-kpi-exporter")] == "epj-kpi-exporter"


def test_every_queried_metric_is_emitted_by_a_deployed_and_scraped_component(
    prod_objects: list[Obj], helpers: Any
) -> None:
    rule_exprs, recorded = _rule_exprs(prod_objects)
    assert rule_exprs, "the prod render carries the alert rules"
    queried = _queried(rule_exprs + _dashboard_exprs())
    scraped: dict[str, set[str]] = {}
    deployments = {
        (d["metadata"]["namespace"], d["metadata"]["name"]): d for d in helpers.of_kind(prod_objects, "Deployment")
    }
    for target in helpers.scrape_targets(prod_objects):
        dep = deployments[(target["namespace"], target["deployment"])]
        for name in _emitted(dep):
            scraped.setdefault(name, set()).add(target["job"])
    readme = (ROOT / "infra" / "README.md").read_text(encoding="utf-8")
    db_monitored = {
        o["metadata"]["namespace"]
        for o in prod_objects
        if o["kind"] == "PodMonitor" and o["spec"]["selector"].get("matchLabels", {}).get("cnpg.io/cluster") == "epj-db"
    }
    tenants_without_db_monitor = sorted(
        o["metadata"]["name"]
        for o in prod_objects
        if o["kind"] == "Namespace"
        and o["metadata"]["name"].startswith("kommune-")
        and o["metadata"]["name"] not in db_monitored
    )
    missing = []
    for name in sorted(queried):
        if name in SYNTHETIC or name in recorded or name in scraped:
            continue
        if name in PREREQUISITE_METRICS:
            assert PREREQUISITE_METRICS[name] in readme, f"{name}: README must list {PREREQUISITE_METRICS[name]}"
            continue
        if name in DATABASE_INSTANCE_METRICS:
            assert tenants_without_db_monitor == [], (
                f"{name}: no PodMonitor on the database in {tenants_without_db_monitor}"
            )
            continue
        missing.append(name)
    assert not missing, f"queried but no rendered component emits them where a monitor scrapes: {missing}"


def test_every_job_a_rule_matches_is_one_the_render_produces(prod_objects: list[Obj], helpers: Any) -> None:
    produced = {t["job"] for t in helpers.scrape_targets(prod_objects)}
    rule_exprs, _ = _rule_exprs(prod_objects)
    matched = 0
    for expr in rule_exprs:
        for sel in _selectors(promql_parser.parse(expr)):
            for m in sel.matchers.matchers:
                if m.name != "job":
                    continue
                matched += 1
                if m.op == promql_parser.MatchOp.Equal:
                    assert m.value in produced, (m.value, expr)
                elif m.op == promql_parser.MatchOp.Re:
                    alternatives = m.value.split("|")
                    if all(re.fullmatch(r"[A-Za-z0-9_-]+", a) for a in alternatives):
                        assert set(alternatives) <= produced, (m.value, sorted(produced))
                    else:
                        assert any(re.fullmatch(m.value, job) for job in produced), (m.value, sorted(produced))
    assert matched >= 2  # EpjOperatorDown and EpjExporterDown select by job


class CliError(Exception):
    """The CLI refused the arguments (unknown option, missing value, not a command)."""


def _parse_epj(argv: list[str], env: dict[str, str]) -> Any:
    """Parse ``epj <argv>`` with the real CLI (typer's click) and only ``env`` in the environment; no command runs.

    Groups resolve their sub-command as click does when it runs (``epj runbook ALERT`` included).
    """
    from epj.cli import app

    cmd: Any = typer.main.get_command(app)
    args, name, parent = list(argv), "epj", None
    with mock.patch.dict(os.environ, env, clear=True):
        try:
            while True:
                ctx = cmd.make_context(name, args, parent=parent)
                if not hasattr(cmd, "commands"):
                    return ctx
                rest = [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])), *ctx.args]
                if not rest:
                    raise CliError(f"`{name}` needs a command")
                sub_name, cmd, args = cmd.resolve_command(ctx, rest)
                name, parent = f"{name} {sub_name}", ctx
        except CliError:
            raise
        except Exception as exc:  # typer vendors click: its UsageError/BadParameter classes
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            raise CliError(f"{name}: {message}") from exc


def _container_env(container: Obj) -> dict[str, str]:
    env = {}
    for item in container.get("env") or []:
        # A value from a Secret is set at run time; its presence is what counts here.
        env[item["name"]] = item.get("value", "<from-secret>")
    return env


def test_every_deployed_epj_command_gets_every_option_and_env_var_it_needs(
    prod_objects: list[Obj], helpers: Any
) -> None:
    seen = set()
    for dep in helpers.of_kind(prod_objects, "Deployment"):
        container = dep["spec"]["template"]["spec"]["containers"][0]
        if container.get("command") != [contract.CLI]:
            continue
        env = _container_env(container)
        try:
            ctx = _parse_epj(container["args"], env)
        except CliError as exc:
            pytest.fail(f"{dep['metadata']['namespace']}/{dep['metadata']['name']}: {exc}")
        seen.add(tuple(container["args"][:2]))
        mounts = {m["mountPath"] for m in container.get("volumeMounts") or []}
        ports = {p["name"]: p["containerPort"] for p in container.get("ports") or []}
        if container["args"][:2] == ["monitoring", "kpi-exporter"]:
            assert ctx.params["dsn"] == env[contract.ENV_KPI_DSN]
            assert ctx.params["credentials_dir"] in mounts
            assert ctx.params["port"] == ports["metrics"]
        if container["args"][:2] == ["monitoring", "probe-exporter"]:
            assert ctx.params["port"] == ports["metrics"]
            for item in ctx.params["certificate"]:
                name, _, path = item.partition("=")
                assert name in contract.CERTIFICATES and any(path.startswith(m + "/") for m in mounts), item
            probed = {i.partition("=")[0] for i in ctx.params["integration"]}
            integrations = {s.name for s in load_catalog().services.values() if s.kind == "integration"}
            assert probed == integrations  # every national integration's EpjNationalIntegrationDown has data
    assert seen == {("operator", "run"), ("monitoring", "probe-exporter"), ("monitoring", "kpi-exporter")}


def test_the_operator_reads_what_its_deployment_sets(prod_objects: list[Obj], helpers: Any) -> None:
    from epj.infra.config import load_stack_config
    from epj.operator.app import context_from_environment
    from epj.operator.runner import default_liveness_endpoint

    config = load_stack_config("prod")
    dep = next(d for d in helpers.of_kind(prod_objects, "Deployment") if d["metadata"]["name"] == "epj-operator")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    env = _container_env(container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    with mock.patch.dict(os.environ, env, clear=True):
        ctx = context_from_environment(client=None)
        metrics_port = os.environ.get(contract.ENV_METRICS_PORT)
    assert ctx.alertmanager_url == config.alertmanager_url  # the no-critical-alerts gate has somewhere to ask
    assert ctx.image == config.effective_migration_image != contract.DEFAULT_MIGRATION_IMAGE
    assert metrics_port is not None and int(metrics_port) == ports["metrics"]
    assert default_liveness_endpoint(env) is not None
    target = next(t for t in helpers.scrape_targets(prod_objects) if t["deployment"] == "epj-operator")
    assert target["port"] == int(metrics_port)


def test_planner_operator_and_cli_share_one_namespace(prod_objects: list[Obj], helpers: Any) -> None:
    from epj.waves.outputs import DEFAULT_NAMESPACE as planner_default

    operator = next(d for d in helpers.of_kind(prod_objects, "Deployment") if d["metadata"]["name"] == "epj-operator")
    args = operator["spec"]["template"]["spec"]["containers"][0]["args"]
    watched = args[args.index("--namespace") + 1]
    assert watched == operator["metadata"]["namespace"]
    roles = [r for r in helpers.of_kind(prod_objects, "Role") if r["metadata"]["name"] == "epj-operator"]
    assert [r["metadata"]["namespace"] for r in roles] == [watched]  # its RBAC for the GoLive kinds is there
    cli_defaults = {
        " ".join(cmd): _parse_epj([*cmd, *extra], {}).params["namespace"]
        for cmd, extra in (
            (["golive", "status"], []),
            (
                ["golive", "approve"],
                ["--tenant", "5035", "--gate", "go-no-go", "--by", "project-lead", "--reason", "ok"],
            ),
            (["waves", "plan"], ["scenario.yaml", "--out", "out"]),
        )
    }
    assert cli_defaults == dict.fromkeys(cli_defaults, watched)
    assert planner_default == watched


def _runbook_commands() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "runbooks").rglob("*.md")):
        in_block = False
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("```"):
                in_block = not in_block
                continue
            if in_block and stripped.startswith("epj "):
                out.append((str(path.relative_to(ROOT)), stripped))
    return out


def test_every_epj_command_in_a_runbook_parses_against_the_cli(helpers: Any) -> None:
    commands = _runbook_commands()
    assert len(commands) >= 10
    env = {"EPJ_KPI_DSN": "postgresql://localhost/epj", "EPJ_TENANT_DSN": "postgresql://localhost/epj"}
    bad = []
    for where, command in commands:
        argv = shlex.split(helpers.placeholder_args(command.split(" #")[0]))[1:]
        argv = [a for a in argv if a not in ("|", "&&")]
        try:
            _parse_epj(argv, env)
        except CliError as exc:
            bad.append(f"{where}: {command}: {exc}")
    assert not bad, "\n".join(bad)


def _cpu(q: str) -> float:
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def _mib(q: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    return float(q[:-2]) * units[q[-2:]] if q[-2:] in units else float(q) / 2**20


def test_every_tenant_quota_admits_everything_the_render_deploys_there(prod_objects: list[Obj], helpers: Any) -> None:
    """The KPI exporter added to each tenant namespace must fit its ResourceQuota (with a rolling-update surge)."""
    for quota in helpers.of_kind(prod_objects, "ResourceQuota"):
        ns, hard = quota["metadata"]["namespace"], quota["spec"]["hard"]
        cpu = mem = cpu_lim = mem_lim = 0.0
        pods = 0
        for dep in (d for d in helpers.of_kind(prod_objects, "Deployment") if d["metadata"]["namespace"] == ns):
            n = dep["spec"]["replicas"] + 1  # one surge pod during a rollout
            pods += n
            for c in dep["spec"]["template"]["spec"]["containers"]:
                cpu += n * _cpu(c["resources"]["requests"]["cpu"])
                mem += n * _mib(c["resources"]["requests"]["memory"])
                cpu_lim += n * _cpu(c["resources"]["limits"]["cpu"])
                mem_lim += n * _mib(c["resources"]["limits"]["memory"])
        for db in (c for c in helpers.of_kind(prod_objects, "Cluster") if c["metadata"]["namespace"] == ns):
            n = db["spec"]["instances"]
            pods += n
            cpu += n * _cpu(db["spec"]["resources"]["requests"]["cpu"])
            mem += n * _mib(db["spec"]["resources"]["requests"]["memory"])
            cpu_lim += n * _cpu(db["spec"]["resources"]["limits"]["cpu"])
            mem_lim += n * _mib(db["spec"]["resources"]["limits"]["memory"])
        assert pods <= int(hard["pods"]), ns
        assert cpu <= _cpu(hard["requests.cpu"]) and mem <= _mib(hard["requests.memory"]), ns
        assert cpu_lim <= _cpu(hard["limits.cpu"]) and mem_lim <= _mib(hard["limits.memory"]), ns
