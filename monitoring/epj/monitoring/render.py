"""Write every generated monitoring artefact into one folder (``epj monitoring render --out DIR``).

Layout (a stable interface scripts rely on): ``DIR/rules/*.yml``, ``DIR/tests/*.yml``,
``DIR/alertmanager.yml``, ``DIR/dashboards/*.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from epj.catalog import ServiceCatalog, load_catalog

_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: 5x faster


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]  # base chosen at import time
    """Block style for multi-line PromQL so rule files stay readable in review."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=200)


def _fresh_folder(folder: Path, pattern: str) -> Path:
    """Create ``folder`` and drop earlier generated files, so a removed service leaves no stale rules behind."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(pattern):
        old.unlink()
    return folder


def render_rules(out: Path, catalog: ServiceCatalog, base_url: str | None = None) -> list[Path]:
    from epj.monitoring.rules import rule_files

    folder = _fresh_folder(out / "rules", "*.yml")
    written = []
    for name, doc in rule_files(catalog, base_url).items():
        path = folder / name
        path.write_text(dump_yaml(doc), encoding="utf-8")
        written.append(path)
    return written


def render_tests(out: Path, catalog: ServiceCatalog, base_url: str | None = None) -> list[Path]:
    from epj.monitoring.promtests import test_files

    folder = _fresh_folder(out / "tests", "*.yml")
    written = []
    for name, doc in test_files(catalog, base_url).items():
        path = folder / name
        path.write_text(dump_yaml(doc), encoding="utf-8")
        written.append(path)
    return written


def render_alertmanager(out: Path, catalog: ServiceCatalog, env: str) -> Path:
    from epj.monitoring.alertmanager import alertmanager_config
    from epj.tenants import load_tenants

    tenants = load_tenants().active(env)
    path = out / "alertmanager.yml"
    path.write_text(dump_yaml(alertmanager_config(tenants, catalog)), encoding="utf-8")
    return path


def render_dashboards(out: Path, catalog: ServiceCatalog) -> list[Path]:
    import json

    from epj.monitoring.dashboards import dashboards

    folder = _fresh_folder(out / "dashboards", "*.json")
    written = []
    for name, doc in dashboards(catalog).items():
        path = folder / name
        path.write_text(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _stack_runbook_base(env: str) -> str | None:
    """The environment's ``runbookBaseUrl`` from its stack file (what the cluster's rules use), if it has one."""
    from epj.infra.config import InfraConfigError, load_stack_config

    try:
        return load_stack_config(env).runbook_base_url
    except InfraConfigError:
        return None


def render_all(out: Path, base_url: str | None = None, env: str = "prod") -> list[Path]:
    """Render everything; returns the files written, in a stable order.

    Runbook base: ``base_url``, else ``EPJ_RUNBOOK_BASE_URL``, else the stack file's ``runbookBaseUrl`` of
    ``env`` (so these files link where the cluster's rules link), else the reserved placeholder.
    """
    import os

    from epj import contract

    base_url = base_url or os.environ.get(contract.ENV_RUNBOOK_BASE_URL) or _stack_runbook_base(env)
    catalog = load_catalog()
    out.mkdir(parents=True, exist_ok=True)
    written = render_rules(out, catalog, base_url)
    written += render_tests(out, catalog, base_url)
    written.append(render_alertmanager(out, catalog, env))
    written += render_dashboards(out, catalog)
    return written
