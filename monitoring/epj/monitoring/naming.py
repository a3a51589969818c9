"""One naming scheme for alerts and their runbooks.

Every alert name is ``Epj`` + CamelCase, and every ``runbook_url`` is built from ONE
pattern (:data:`RUNBOOK_PATH_PATTERN`) so no alert can lack a runbook and the
runbooks colleague can find the file each alert points at without reading rules.
"""

from __future__ import annotations

import os
import re

from epj import contract

ALERT_PREFIX = "Epj"

# Repository-relative path of an alert's runbook; the URL is ``<base>/<this path>``.
RUNBOOK_PATH_PATTERN = contract.RUNBOOK_PATH_PATTERN

# Where on-call staff open runbooks. Deployments set EPJ_RUNBOOK_BASE_URL (or pass
# --runbook-base); the default is a reserved, never-resolving host so a forgotten
# setting is obvious rather than pointing somewhere plausible but wrong.
DEFAULT_RUNBOOK_BASE_URL = contract.DEFAULT_RUNBOOK_BASE_URL

_ALERT_NAME = re.compile(r"^Epj[A-Z][A-Za-z0-9]*$")


def camel(key: str) -> str:
    """``medication-administration`` → ``MedicationAdministration``; ``e-messaging`` → ``EMessaging``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_ ]+", key) if part)


def alert_name(*parts: str) -> str:
    """Join CamelCase parts under the shared prefix and check the result is a valid alert name."""
    name = ALERT_PREFIX + "".join(camel(p) if not p[:1].isupper() else p for p in parts)
    if not _ALERT_NAME.fullmatch(name):
        raise ValueError(f"not a valid alert name: {name!r}")
    return name


def runbook_base_url(override: str | None = None) -> str:
    """The configured base: explicit argument, then EPJ_RUNBOOK_BASE_URL, then the placeholder."""
    return (override or os.environ.get(contract.ENV_RUNBOOK_BASE_URL) or DEFAULT_RUNBOOK_BASE_URL).rstrip("/")


def alert_runbook_path(name: str) -> str:
    """Repository-relative runbook path for an alert, e.g. ``runbooks/alerts/EpjOperatorDown.md``."""
    if not _ALERT_NAME.fullmatch(name):
        raise ValueError(f"not a valid alert name: {name!r}")
    return RUNBOOK_PATH_PATTERN.format(name=name)


def runbook_url(name: str, base: str | None = None) -> str:
    """The one pattern every alert's ``runbook_url`` annotation is built from."""
    return f"{runbook_base_url(base)}/{alert_runbook_path(name)}"
