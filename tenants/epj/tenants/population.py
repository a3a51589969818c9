"""Exact populations from a Statistics Norway (SSB) Statistikkbanken export, into the tenant files.

The tenant files carry rounded estimates until someone imports SSB's own figures (table 07459
or 01222, "Befolkning ved utgangen av kvartalet"). Statistikkbanken writes CSV in a few shapes,
and this reader accepts the ones its "Lagre som" menu produces:

* semicolon- or comma-separated, UTF-8 (with or without BOM) or Windows-1252;
* optional title line(s) before the header row (the header's first cell names the region);
* long format (columns region; kvartal; statistikkvariabel; value) or wide format (region;
  then one column per quarter, e.g. ``Personer 2024K3``);
* region cells such as ``5035 Stjørdal`` or ``K-5035 Stjørdal``; missing values ``.``/``..``/``:``.

Pure: parsing and the new population blocks. The CLI (``epj tenants population``) writes files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass

QUARTER = re.compile(r"(\d{4})K([1-4])")
REGION = re.compile(r"^(?:K-)?(\d{4})\b")
MISSING = {".", "..", "...", ":", "-", ""}
POPULATION_VARIABLE = re.compile(r"(befolkning|folketal|folkemengd|personer|population)", re.IGNORECASE)


class PopulationFileError(ValueError):
    """The file is not an SSB population table this reader understands; the message says why and what to do."""


@dataclass(frozen=True)
class PopulationFigure:
    kommunenummer: str
    inhabitants: int
    quarter: str  # e.g. 2024K3

    @property
    def as_of(self) -> dt.date:
        """The day the figure holds for: the first day after the quarter ends (SSB: 'utgangen av kvartalet')."""
        year, quarter = (int(part) for part in QUARTER.fullmatch(self.quarter).groups())  # type: ignore[union-attr]
        return dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, quarter * 3 + 1, 1)


def decode(data: bytes) -> str:
    """SSB exports are UTF-8 (often with BOM) or Windows-1252; anything else is refused."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise PopulationFileError("is neither UTF-8 nor Windows-1252 text; export it again as CSV") from None


def _rows(text: str) -> list[list[str]]:
    sample = "\n".join(text.splitlines()[:20])
    delimiter = ";" if sample.count(";") >= sample.count(",") else ","
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _number(cell: str, where: str) -> int | None:
    value = cell.replace("\u00a0", "").replace(" ", "")
    if value in MISSING:
        return None
    if not value.isdigit():
        raise PopulationFileError(f"{where}: {cell!r} is not a whole number of inhabitants")
    return int(value)


def parse_population_csv(data: bytes, quarter: str | None = None) -> dict[str, PopulationFigure]:
    """kommunenummer → figure for ``quarter`` (default: the latest quarter in the file)."""
    if quarter is not None and not QUARTER.fullmatch(quarter):
        raise PopulationFileError(f"quarter {quarter!r} is not written like 2024K3")
    rows = [r for r in _rows(decode(data)) if any(r)]
    header_at = next((i for i, r in enumerate(rows) if len(r) > 1 and r[0].lower().startswith("region")), None)
    if header_at is None:
        raise PopulationFileError(
            "has no header row starting with 'region': export the table from Statistikkbanken as CSV "
            "(semicolon-separated, with headings)"
        )
    header, body = rows[header_at], rows[header_at + 1 :]
    lower = [h.lower() for h in header]
    found: list[tuple[str, str, int | None, int]] = []  # kommunenr, quarter, value, line
    if "kvartal" in lower:
        q_col = lower.index("kvartal")
        var_col = lower.index("statistikkvariabel") if "statistikkvariabel" in lower else None
        for offset, row in enumerate(body, start=header_at + 2):
            region = REGION.match(row[0]) if row else None
            if region is None or len(row) < len(header):
                continue
            if var_col is not None and not POPULATION_VARIABLE.search(row[var_col]):
                continue
            where = f"line {offset}"
            found.append((region.group(1), row[q_col], _number(row[-1], where), offset))
    else:
        columns = [(i, QUARTER.search(h)) for i, h in enumerate(header)]
        quarter_cols = [(i, m.group(0)) for i, m in columns if m is not None and i > 0]
        if not quarter_cols:
            raise PopulationFileError("names no quarter (e.g. 2024K3) in its header: choose a quarter when exporting")
        for offset, row in enumerate(body, start=header_at + 2):
            region = REGION.match(row[0]) if row else None
            if region is None:
                continue
            for index, label in quarter_cols:
                if index < len(row):
                    found.append((region.group(1), label, _number(row[index], f"line {offset}"), offset))
    if not found:
        raise PopulationFileError("holds no municipality rows (region cells like '5035 Stjørdal')")
    quarters = sorted({q for _, q, _, _ in found if QUARTER.fullmatch(q)})
    chosen = quarter or (quarters[-1] if quarters else None)
    if chosen is None or chosen not in quarters:
        raise PopulationFileError(
            f"has no figures for quarter {chosen}; it has {', '.join(quarters) or 'none'} (choose with --quarter)"
        )
    figures: dict[str, PopulationFigure] = {}
    for kommunenr, label, value, line in found:
        if label != chosen:
            continue
        if value is None:
            raise PopulationFileError(f"line {line}: {kommunenr} has no figure for {chosen} (SSB marks it missing)")
        if kommunenr in figures and figures[kommunenr].inhabitants != value:
            raise PopulationFileError(f"line {line}: {kommunenr} appears twice for {chosen} with different figures")
        figures[kommunenr] = PopulationFigure(kommunenr, value, chosen)
    return figures


def population_block(figure: PopulationFigure, table: str) -> str:
    """The ``population:`` block of a tenant file for an exact SSB figure (estimate: false)."""
    return (
        "population:\n"
        f"  inhabitants: {figure.inhabitants}\n"
        f"  source: Statistics Norway (SSB), Statistikkbanken table {table}, {figure.quarter}\n"
        f"  as_of: {figure.as_of.isoformat()}\n"
        "  estimate: false\n"
    )


def replace_population_block(text: str, block: str) -> str:
    """The tenant file's text with its ``population:`` mapping replaced; comments and other keys untouched."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("population:")), None)
    if start is None:
        raise PopulationFileError("tenant file has no 'population:' block")
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    return "".join(lines[:start]) + block + "".join(lines[end:])
