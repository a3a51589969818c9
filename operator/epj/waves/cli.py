"""epj waves — the wave planner (issue 6): command-line adapter (being built)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root `epj` app (nothing yet)."""
