"""Where the platform's declarative data lives.

The same code runs from a source checkout (editable install, the normal case for
operators and CI) and from the container image (a wheel, data copied under
``epj/_data``). Every reader of tenant files, the service catalog or runbooks asks
this module instead of guessing paths, so both layouts work.
"""

from __future__ import annotations

import os
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[2]
_WHEEL_DATA = Path(__file__).resolve().parent / "_data"


def repo_root() -> Path | None:
    """The source checkout's top folder, or None when running from a wheel."""
    if (_SOURCE_ROOT / "pyproject.toml").is_file() and (_SOURCE_ROOT / "tenants").is_dir():
        return _SOURCE_ROOT
    return None


def _data_dir(env: str, relative: str) -> Path:
    override = os.environ.get(env)
    if override:
        return Path(override)
    root = repo_root()
    if root is not None:
        return root / relative
    return _WHEEL_DATA / relative


def tenants_dir() -> Path:
    """Folder holding one ``<kommunenr>-<name>.yaml`` per municipality (EPJ_TENANTS_DIR overrides)."""
    return _data_dir("EPJ_TENANTS_DIR", "tenants")


def service_catalog_path() -> Path:
    """The one service catalog file (EPJ_SERVICE_CATALOG overrides)."""
    return _data_dir("EPJ_SERVICE_CATALOG", "monitoring/service-catalog.yaml")


def runbooks_dir() -> Path:
    """Folder of runbooks and playbooks (EPJ_RUNBOOKS_DIR overrides)."""
    return _data_dir("EPJ_RUNBOOKS_DIR", "runbooks")


def infra_dir() -> Path:
    """Folder of the Pulumi project (Pulumi.yaml and the stack files)."""
    return _data_dir("EPJ_INFRA_DIR", "infra")
