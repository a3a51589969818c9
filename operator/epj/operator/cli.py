"""epj golive / epj operator — the kopf operator (issue 4): command-line adapter (being built)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root `epj` app (nothing yet)."""
