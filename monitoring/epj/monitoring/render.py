"""Write every generated monitoring artefact into one folder (``epj monitoring render --out DIR``).

Layout (a stable interface scripts rely on): ``DIR/rules/*.yml``, ``DIR/tests/*.yml``,
``DIR/alertmanager.yml``, ``DIR/dashboards/*.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from epj.catalog import ServiceCatalog, load_catalog


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line PromQL so rule files stay readable in review."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=200)


def render_rules(out: Path, catalog: ServiceCatalog, base_url: str | None = None) -> list[Path]:
    from epj.monitoring.rules import rule_files

    folder = out / "rules"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in rule_files(catalog, base_url).items():
        path = folder / name
        path.write_text(dump_yaml(doc), encoding="utf-8")
        written.append(path)
    return written


def render_all(out: Path, base_url: str | None = None, env: str = "prod") -> list[Path]:
    """Render everything; returns the files written, in a stable order."""
    catalog = load_catalog()
    out.mkdir(parents=True, exist_ok=True)
    written = render_rules(out, catalog, base_url)
    return written
