"""Numbers written one way across the platform: Norwegian digit grouping and decimal comma.

``143 490`` inhabitants, ``613 091,50`` NOK — in tables, summaries, plans and messages alike, so a
reader never wonders whether ``1,200`` is one thousand two hundred or one point two. Stdlib only:
the domain core (wave summaries, solver explanations) uses it as much as the CLI does.
"""

from __future__ import annotations

from decimal import Decimal


def fmt_int(number: int) -> str:
    """``144431`` → ``144 431`` (a plain space groups thousands)."""
    return f"{number:,}".replace(",", " ")


def fmt_decimal(number: float | Decimal, decimals: int = 2, *, sign: bool = False) -> str:
    """``613091.5`` → ``613 091,50`` (grouping and decimal comma); ``sign`` adds ``+``/``-``."""
    text = f"{number:{'+' if sign else ''},.{decimals}f}"
    return text.replace(",", " ").replace(".", ",")
