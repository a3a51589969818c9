"""Synthetic legacy extracts (Profil CSV + CGM XML) of realistic size and shape (SPEC §1-§4).

Why: rehearsals, benchmarks and tests need extracts the size of a real municipality's, and no
real patient data may ever enter this project. `generate_extract` writes a SPEC-conformant
extract folder for one tenant, sized from its population, with only synthetic national ids
(month + 80) and invented names, and with a small, configurable share of the data problems of
SPEC §5 so that a migration shows quarantines and warnings like a real one.

Design:
- Streaming: one care recipient (bruker) at a time is written to all seven Profil files, then one
  child at a time to the CGM XML; memory stays flat in the extract size (only ids of persons are
  remembered, to keep national ids unique). The manifest ``UTTREKK.txt`` is written last, so an
  interrupted generation leaves a folder that no migration accepts.
- Deterministic: one ``random.Random`` seeded from (kommunenr, seed); same arguments, same bytes.
- Accountable: every injected problem is counted, and the summary carries the reconciliation
  (SPEC §6) that a correct migration of this extract must produce in a run that allows synthetic
  ids, so pipeline tests can compare against it.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final
from xml.sax.saxutils import escape, quoteattr

from epj.migration import gen_vocab as V
from epj.migration.codes import (
    CGM_ELEMENTS,
    CONFLICTING_DEMOGRAPHICS,
    DUPLICATE_ID,
    INVALID_ATC,
    INVALID_DATE,
    INVALID_NATIONAL_ID,
    MALFORMED_ROW,
    MISSING_NATIONAL_ID,
    PARENT_QUARANTINED,
    PATIENT_UNIDENTIFIABLE,
    PERIOD_END_BEFORE_START,
    PROFIL_COLUMNS,
    PROFIL_FILES,
    UNKNOWN_CODE,
    UNKNOWN_PARENT,
    WARNINGS,
)
from epj.migration.codes import REASONS as QUARANTINE_REASONS
from epj.migration.synthetic_ids import break_check_digit, synthetic_national_id
from epj.numbers import fmt_int

# --- sizing (per 1,000 inhabitants, before `scale`) -----------------------------------------------
HOME_NURSING_PER_1000: Final = 32.0
PRACTICAL_ASSISTANCE_PER_1000: Final = 14.0
PRACTICAL_ALSO_HOME_NURSING: Final = 0.4  # share of practical-assistance recipients who also get home nursing
NURSING_HOME_PLACES_PER_1000: Final = 7.0
CHILDREN_0_5_PER_1000: Final = 60.0
CHILDREN_WITH_CARE_PER_1000: Final = 0.8  # children with Profil services (also in CGM: merged patients)
FORMER_RECIPIENTS_PER_1000: Final = 18.0  # finished or deceased recipients still in the extract
_HOME_NURSING_WITH_PRACTICAL: Final = (
    PRACTICAL_ASSISTANCE_PER_1000 * PRACTICAL_ALSO_HOME_NURSING / HOME_NURSING_PER_1000
)  # so that practical assistance totals 14 per 1,000
ADMINISTRATION_HISTORY_DAYS: Final = 365  # Profil keeps a year of medication administrations

DEFAULT_EXTRACT_TIME: Final = dt.datetime(2026, 11, 1, 2, 0, 0)
PROFIL_VERSION: Final = "9.4.2"
CGM_VERSION: Final = "7.1"

CGM_FILE: Final = "cgm/helsestasjon.xml"
_EXTRA_ROW_FAULTS: Final = frozenset({DUPLICATE_ID, UNKNOWN_PARENT})  # injected as an extra record

# FHIR resource type per source (for the expected reconciliation).
_RESOURCE_OF_SOURCE: Final = {
    "profil/BRUKER.csv": "Patient",
    "profil/VEDTAK.csv": "EpisodeOfCare",
    "profil/JOURNAL.csv": "DocumentReference",
    "profil/LEGEMIDDEL.csv": "MedicationStatement",
    "profil/ADMINISTRERING.csv": "MedicationAdministration",
    "profil/IPLOS.csv": "Observation",
    "profil/PARORENDE.csv": "RelatedPerson",
    "cgm/Barn": "Patient",
    "cgm/Foresatt": "RelatedPerson",
    "cgm/Konsultasjon": "Encounter",
    "cgm/Maaling": "Observation",
    "cgm/Vaksinasjon": "Immunization",
}


def source_key(name: str) -> str:
    """SPEC §6 source key of a Profil file name (``BRUKER``) or CGM element (``Barn``)."""
    return f"cgm/{name}" if name in CGM_ELEMENTS else f"profil/{name}.csv"


@dataclass(frozen=True)
class FaultRates:
    """How many data problems (SPEC §5) the generator injects, as a probability per record.

    `patient_quarantine` is split over the quarantine reasons that apply to patient records
    (BRUKER rows, CGM ``Barn``); each quarantines the whole patient, so all that patient's
    records cascade to PARENT_QUARANTINED. `record_quarantine` is split over the reasons that
    apply to every other record kind. With `ensure_each`, every (source, reason/warning)
    combination the generator knows occurs at least once, early, even if rates are tiny, so a
    small extract (scale >= 0.05) exercises every reason of SPEC §5.
    """

    patient_quarantine: float = 0.005
    record_quarantine: float = 0.0005
    missing_national_id: float = 0.02
    invalid_national_id: float = 0.005
    invalid_atc: float = 0.01
    period_end_before_start: float = 0.005
    conflicting_demographics: float = 0.25  # of children who are in both Profil and CGM
    ensure_each: bool = True

    @classmethod
    def clean(cls) -> FaultRates:
        """No data problems at all: every record migrates, nothing warns (only natural newborns lack an id)."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, ensure_each=False)


@dataclass(frozen=True)
class GenerateSummary:
    """What one generation wrote: records per source (SPEC §6 keys) and the expected reconciliation."""

    out_dir: Path
    kommunenr: str
    population: int
    scale: float
    seed: int
    counts: dict[str, int]
    records: int
    expected_reconciliation: dict[str, Any]

    def __str__(self) -> str:
        parts = ", ".join(f"{k.split('/')[1].removesuffix('.csv')} {fmt_int(v)}" for k, v in self.counts.items())
        return f"kommune {self.kommunenr}: {fmt_int(self.records)} records written to {self.out_dir} ({parts})"

    @property
    def manifest_counts(self) -> dict[str, int]:
        """The ``antall.*`` entries of UTTREKK.txt."""
        out = {
            f"antall.{k.split('/')[1].removesuffix('.csv')}": v for k, v in self.counts.items() if k[:7] == "profil/"
        }
        if "cgm/Barn" in self.counts:
            out["antall.cgm.Barn"] = self.counts["cgm/Barn"]
        return out


# --- small helpers ---------------------------------------------------------------------------------

_HHMM: Final = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(24 * 60))


class _Dates:
    """Cached date formatting by ordinal: the generator formats millions of dates from a few thousand days."""

    def __init__(self) -> None:
        self._no: dict[int, str] = {}
        self._iso: dict[int, str] = {}

    def no(self, ordinal: int) -> str:
        text = self._no.get(ordinal)
        if text is None:
            d = dt.date.fromordinal(ordinal)
            text = self._no[ordinal] = f"{d.day:02d}.{d.month:02d}.{d.year}"
        return text

    def iso(self, ordinal: int) -> str:
        text = self._iso.get(ordinal)
        if text is None:
            text = self._iso[ordinal] = dt.date.fromordinal(ordinal).isoformat()
        return text


def _bad_no_date(year: int, rng: random.Random) -> str:
    """A date in Profil format that does not exist (SPEC §7 INVALID_DATE)."""
    return rng.choice((f"30.02.{year}", f"31.04.{year}", f"31.06.{year}", f"00.05.{year}", f"32.01.{year}"))


def _bad_iso_date(year: int, rng: random.Random) -> str:
    return rng.choice((f"{year}-02-30", f"{year}-04-31", f"{year}-09-31", f"{year}-13-01"))


def _q(value: str) -> str:
    """CSV field quoting per SPEC §2: quote when the field holds ``;``, ``"`` or a line break."""
    if ";" in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _row(*fields: str) -> str:
    return ";".join(fields) + "\r\n"


class _FaultPicker:
    """Decides, record by record, which data problem (if any) to inject; forces each kind once with `ensure_each`."""

    SPACING: Final = {"profil/BRUKER.csv": 2, "cgm/Barn": 2}
    DEFAULT_SPACING: Final = 9

    def __init__(self, rng: random.Random, table: dict[str, list[tuple[str, float]]], ensure: bool) -> None:
        self._rng = rng
        self._cumulative: dict[str, list[tuple[float, str]]] = {}
        self._total: dict[str, float] = {}
        for source, kinds in table.items():
            acc = 0.0
            cumulative = []
            for kind, rate in kinds:
                if rate > 0:
                    acc += rate
                    cumulative.append((acc, kind))
            self._cumulative[source] = cumulative
            self._total[source] = acc
        self._pending: dict[str, list[str]] = {s: [k for k, _ in kinds] if ensure else [] for s, kinds in table.items()}
        self._seen: Counter[str] = Counter()

    def pick(self, source: str, *, no_duplicate: bool = False, forcible: bool = True) -> str | None:
        """The problem to inject into this record, if any. `forcible=False`: not a record to force one on."""
        pending = self._pending[source]
        if pending and forcible:
            self._seen[source] += 1
        if pending and forcible and self._seen[source] % self.SPACING.get(source, self.DEFAULT_SPACING) == 0:
            for index, kind in enumerate(pending):
                if not (no_duplicate and kind == DUPLICATE_ID):
                    del pending[index]
                    return kind
        r = self._rng.random()
        if r >= self._total[source]:
            return None
        for threshold, kind in self._cumulative[source]:
            if r < threshold:
                return None if (no_duplicate and kind == DUPLICATE_ID) else kind
        return None

    def force(self, source: str, kind: str) -> bool:
        """Take a pending forced `kind` for `source` if there is one (for faults decided outside `pick`)."""
        pending = self._pending.get(source)
        if pending and kind in pending:
            pending.remove(kind)
            return True
        return False


def _fault_table(rates: FaultRates) -> dict[str, list[tuple[str, float]]]:
    pq, rq = rates.patient_quarantine, rates.record_quarantine

    def split(rate: float, *kinds: str) -> list[tuple[str, float]]:
        return [(k, rate / len(kinds)) for k in kinds]

    own = (MALFORMED_ROW, INVALID_DATE, DUPLICATE_ID, UNKNOWN_PARENT, UNKNOWN_CODE)
    return {
        "profil/BRUKER.csv": [
            *split(pq, MALFORMED_ROW, INVALID_DATE, DUPLICATE_ID, UNKNOWN_CODE, PATIENT_UNIDENTIFIABLE),
            (MISSING_NATIONAL_ID, rates.missing_national_id),
            (INVALID_NATIONAL_ID, rates.invalid_national_id),
        ],
        "profil/VEDTAK.csv": [*split(rq, *own), (PERIOD_END_BEFORE_START, rates.period_end_before_start)],
        "profil/JOURNAL.csv": split(rq, *own),
        "profil/LEGEMIDDEL.csv": [
            *split(rq, *own),
            (INVALID_ATC, rates.invalid_atc),
            (PERIOD_END_BEFORE_START, rates.period_end_before_start),
        ],
        "profil/ADMINISTRERING.csv": split(rq, *own),
        "profil/IPLOS.csv": split(rq, *own),
        "profil/PARORENDE.csv": split(rq, MALFORMED_ROW, DUPLICATE_ID, UNKNOWN_PARENT, UNKNOWN_CODE),
        "cgm/Barn": [
            *split(pq, MALFORMED_ROW, INVALID_DATE, DUPLICATE_ID, UNKNOWN_CODE),
            (MISSING_NATIONAL_ID, rates.missing_national_id),
            (INVALID_NATIONAL_ID, rates.invalid_national_id),
        ],
        "cgm/Foresatt": split(rq, MALFORMED_ROW, UNKNOWN_CODE),
        "cgm/Konsultasjon": split(rq, MALFORMED_ROW, INVALID_DATE, DUPLICATE_ID),
        "cgm/Maaling": split(rq, MALFORMED_ROW, INVALID_DATE, DUPLICATE_ID, UNKNOWN_CODE),
        "cgm/Vaksinasjon": [*split(rq, MALFORMED_ROW, INVALID_DATE, DUPLICATE_ID), (INVALID_ATC, rates.invalid_atc)],
        "merge": [(CONFLICTING_DEMOGRAPHICS, rates.conflicting_demographics)],
    }


@dataclass(frozen=True, slots=True)
class _MergeChild:
    """A child with Profil services, to appear in CGM too (same national id: one merged Patient)."""

    national_id: str
    first: str
    last: str
    birth: int
    sex: str


@dataclass(slots=True)
class _Staff:
    hpr: list[str]
    names: list[str]


# --- the generator ---------------------------------------------------------------------------------


class _Generator:
    """One generation run: open files, counters, the random stream. Use once."""

    def __init__(
        self,
        out_dir: Path,
        kommunenr: str,
        municipality: str,
        population: int,
        scale: float,
        seed: int,
        faults: FaultRates,
        systems: tuple[str, ...],
        extract_time: dt.datetime,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.out_dir = out_dir
        self.kommunenr = kommunenr
        self.municipality = municipality
        self.population = population
        self.scale = scale
        self.seed = seed
        self.systems = systems
        self.extract_time = extract_time
        self.E = extract_time.date().toordinal()
        self.rng = random.Random(f"epj-extract:{kommunenr}:{seed}")
        self.faults = _FaultPicker(self.rng, _fault_table(faults), faults.ensure_each)
        self.fault_rates = faults
        self.dates = _Dates()
        self.progress = progress
        self.written = 0
        self._next_progress = 10_000
        self.counts: Counter[str] = Counter()
        self.quarantined: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.warnings: Counter[str] = Counter()
        self.patients_merged = 0
        self.used_ids: set[str] = set()
        self.merge_children: list[_MergeChild] = []
        self.last_clean: dict[str, str] = {}
        self.ids: Counter[str] = Counter()
        self.orphans = 0
        self.files: dict[str, IO[str]] = {}
        self.buffers: dict[str, list[str]] = {name: [] for name in PROFIL_FILES}
        self.last_barn: str | None = None
        self.staff = self._make_staff()
        inhabitants = population * scale / 1000.0
        # Postal codes in the county's range (Møre og Romsdal 6xxx, Trøndelag 7xxx, Nordland 8xxx).
        self.postnr_base = {"15": 6000, "18": 8000}.get(kommunenr[:2], 7000) + (int(kommunenr) * 37) % 900
        self.poststed = municipality.upper()
        self.n_children = round(inhabitants * CHILDREN_0_5_PER_1000)
        self.kind_counts = {
            "HJSPL": round(inhabitants * HOME_NURSING_PER_1000),
            "PRAKT": round(inhabitants * PRACTICAL_ASSISTANCE_PER_1000 * (1 - PRACTICAL_ALSO_HOME_NURSING)),
            "LANG": round(inhabitants * NURSING_HOME_PLACES_PER_1000),
            "CHILD": round(inhabitants * CHILDREN_WITH_CARE_PER_1000) if "cgm" in systems else 0,
            "HIST": round(inhabitants * FORMER_RECIPIENTS_PER_1000),
        }

    # -- bookkeeping ---------------------------------------------------------------------------

    def _count(self, source: str, outcome: str | None) -> None:
        """Record one written record and its fate: None = migrated clean, a reason, or a warning code."""
        self.counts[source] += 1
        if outcome is not None:
            if outcome in WARNINGS:
                self.warnings[outcome] += 1
            else:
                self.quarantined[source] += 1
                self.reasons[outcome] += 1
        self.written += 1
        if self.written >= self._next_progress:
            self._report_progress()

    def _count_many(self, source: str, clean: int, parent_quarantined: int) -> None:
        """`_count` for a batch of records (the administration loop's hot path)."""
        self.counts[source] += clean + parent_quarantined
        if parent_quarantined:
            self.quarantined[source] += parent_quarantined
            self.reasons[PARENT_QUARANTINED] += parent_quarantined
        self.written += clean + parent_quarantined
        if self.written >= self._next_progress:
            self._report_progress()

    def _report_progress(self) -> None:
        while self._next_progress <= self.written:
            self._next_progress += 10_000
        if self.progress is not None:
            self.progress(self.written)

    def _next_id(self, source: str) -> int:
        self.ids[source] += 1
        return self.ids[source]

    def _national_id(self, birth: int, male: bool, d_number: bool = False) -> str:
        date = dt.date.fromordinal(birth)
        while True:
            number = synthetic_national_id(date, male=male, rng=self.rng, d_number=d_number)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def _make_staff(self) -> _Staff:
        n = max(15, min(600, round(self.population * self.scale * 0.025)))
        hprs: list[str] = []
        seen: set[str] = set()
        names: list[str] = []
        while len(hprs) < n:
            hpr = str(self.rng.randint(90_000_000, 99_999_999))
            if hpr in seen:
                continue
            seen.add(hpr)
            hprs.append(hpr)
            first = self.rng.choice(V.FEMALE_NAMES[:30] if self.rng.random() < 0.8 else V.MALE_NAMES[:30])
            names.append(f"{first} {self.rng.choice(V.SURNAMES)}")
        return _Staff(hprs, names)

    def _phone(self) -> str:
        r = self.rng.random()
        number = self.rng.randint(40_000_000, 99_999_999)
        if r < 0.1:
            return ""
        if r < 0.25:
            s = str(number)
            return f"+47 {s[:3]} {s[3:5]} {s[5:]}"
        return str(number)

    def _person_name(self, male: bool, generation: int = 0) -> tuple[str, str]:
        """Invented name; `generation` 1 (parents) or 2 (children) draws from the younger end of the lists."""
        start, end = ((0, 30), (20, 40), (30, 40))[generation]
        names = (V.MALE_NAMES if male else V.FEMALE_NAMES)[start:end]
        first = self.rng.choice(names)
        return first, self.rng.choice(V.SURNAMES)

    # -- orchestration -------------------------------------------------------------------------

    def run(self) -> GenerateSummary:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "UTTREKK.txt").unlink(missing_ok=True)
        if "profil" in self.systems:
            self._write_profil()
        if "cgm" in self.systems:
            self._write_cgm()
        self._write_manifest()
        if self.progress is not None:
            self.progress(self.written)
        counts = {source_key(f): self.counts[source_key(f)] for f in PROFIL_FILES} if "profil" in self.systems else {}
        if "cgm" in self.systems:
            counts.update({source_key(e): self.counts[source_key(e)] for e in CGM_ELEMENTS})
        return GenerateSummary(
            out_dir=self.out_dir,
            kommunenr=self.kommunenr,
            population=self.population,
            scale=self.scale,
            seed=self.seed,
            counts=counts,
            records=sum(counts.values()),
            expected_reconciliation=self._expected(counts),
        )

    def _expected(self, counts: dict[str, int]) -> dict[str, Any]:
        sources = {
            s: {"read": n, "migrated": n - self.quarantined[s], "quarantined": self.quarantined[s]}
            for s, n in counts.items()
        }
        resources: Counter[str] = Counter()
        for s, numbers in sources.items():
            resources[_RESOURCE_OF_SOURCE[s]] += numbers["migrated"]
        resources["Patient"] -= self.patients_merged
        return {
            "kommunenr": self.kommunenr,
            "complete": True,
            "sources": sources,
            "resources": {k: v for k, v in resources.items() if v},
            "quarantine": {k: self.reasons[k] for k in QUARANTINE_REASONS if self.reasons[k]},
            "warnings": {k: self.warnings[k] for k in WARNINGS if self.warnings[k]},
            "patients_merged": self.patients_merged,
        }

    def _write_manifest(self) -> None:
        lines = [
            f"# Uttrekk fra fagsystemer – {self.municipality} kommune",
            f"# Syntetiske testdata fra epj migrate generate (seed {self.seed}, skala {self.scale:g}).",
            f"kommunenr={self.kommunenr}",
            f"uttrekkstidspunkt={self.extract_time.isoformat(timespec='seconds')}",
        ]
        if "profil" in self.systems:
            lines.append(f"profil.versjon={PROFIL_VERSION}")
        if "cgm" in self.systems:
            lines.append(f"cgm.versjon={CGM_VERSION}")
        lines.append("# antall datarader per fil (overskriftsrad ikke medregnet)")
        if "profil" in self.systems:
            lines += [f"antall.{name}={self.counts[source_key(name)]}" for name in PROFIL_FILES]
        if "cgm" in self.systems:
            lines.append(f"antall.cgm.Barn={self.counts['cgm/Barn']}")
        tmp = self.out_dir / "UTTREKK.txt.tmp"
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, self.out_dir / "UTTREKK.txt")

    # -- Profil --------------------------------------------------------------------------------

    def _write_profil(self) -> None:
        folder = self.out_dir / "profil"
        folder.mkdir(exist_ok=True)
        try:
            for name, columns in PROFIL_COLUMNS.items():
                self.files[name] = open(folder / f"{name}.csv", "w", encoding="cp1252", errors="strict", newline="")  # noqa: SIM115
                self.files[name].write(";".join(columns) + "\r\n")
            remaining = dict(self.kind_counts)
            next_id = 100_000
            while True:
                total = sum(remaining.values())
                if total == 0:
                    break
                r = self.rng.random() * total
                chosen = ""
                for chosen, left in remaining.items():  # noqa: B007 - the loop picks `chosen`
                    if r < left:
                        break
                    r -= left
                remaining[chosen] -= 1
                next_id += self.rng.choice((1, 1, 1, 2, 3))
                self._bruker(next_id, chosen)
        finally:
            for name, handle in self.files.items():
                self._flush(name)
                handle.close()
            self.files.clear()

    def _flush(self, name: str) -> None:
        """Write buffered rows: one encode and write call per few thousand rows instead of one per row."""
        buffer = self.buffers[name]
        if buffer:
            self.files[name].write("".join(buffer))
            buffer.clear()

    def _emit(self, name: str, row: str, outcome: str | None, *, clean: bool = False) -> None:
        buffer = self.buffers[name]
        buffer.append(row)
        if len(buffer) >= 4096:
            self._flush(name)
        self._count(source_key(name), outcome)
        if clean:
            self.last_clean[name] = row

    def _extra_row(self, name: str, fault: str, orphan: str) -> None:
        """Inject a DUPLICATE_ID copy of the last clean row, or the UNKNOWN_PARENT `orphan` row."""
        if fault == DUPLICATE_ID:
            self._emit(name, self.last_clean[name], DUPLICATE_ID)
        else:
            self._emit(name, orphan, UNKNOWN_PARENT)

    def _orphan_id(self) -> int:
        self.orphans += 1
        return 9_000_000 + self.orphans

    def _bruker(self, bid: int, kind: str) -> None:
        rng, E = self.rng, self.E
        # Timeline: when care started and ended, the birth date that fits the kind of care.
        if kind == "CHILD":
            birth = E - rng.randint(60, 6 * 365 - 1)
            start = rng.randint(birth + 30, E - 14)
            end = None
        else:
            old = rng.random() < 0.85 or kind == "LANG"
            birth = E - rng.randint(67 * 365, 100 * 365) if old else E - rng.randint(20 * 365, 66 * 365)
            mean_years = {"HJSPL": 2.6, "PRAKT": 3.0, "LANG": 2.2, "HIST": 2.0}[kind]
            duration = 30 + min(int(rng.expovariate(1.0 / (mean_years * 365))), 9 * 365)
            if kind == "HIST":
                end = E - rng.randint(30, 7 * 365)
                start = end - duration
            else:
                end = None
                start = E - duration
            start = min(max(start, birth + 18 * 365), (end if end is not None else E) - 1)
        care = kind if kind != "HIST" else ("LANG" if rng.random() < 0.3 else "HJSPL")
        dead = kind == "HIST" and rng.random() < 0.6
        sex_r = rng.random()
        sex = "U" if sex_r < 0.003 else ("K" if sex_r < 0.6 else "M")
        male = sex == "M" or (sex == "U" and rng.random() < 0.5)
        first, last = self._person_name(male, 2 if kind == "CHILD" else 0)
        national_id = self._national_id(birth, male, d_number=kind != "CHILD" and rng.random() < 0.01)
        street = rng.choice(V.STREETS)
        number = f"{rng.randint(1, 160)}{rng.choice(('', '', '', '', 'A', 'B', 'C'))}"
        address = f"{street} {number}" + ("; inngang bak" if rng.random() < 0.02 else "")
        postnr = str(self.postnr_base + rng.randint(0, 20))
        phone = self._phone()
        status = "DOD" if dead else ("AVSLUTTET" if kind == "HIST" else "AKTIV")
        dodsdato = self.dates.no(end) if dead and end is not None else ""
        fodselsdato = self.dates.no(birth)

        fault = (
            None
            if kind == "CHILD"
            # Forced (ensure_each) patient faults go to recipients with little history, so that
            # their cascade of PARENT_QUARANTINED stays small in a small extract.
            else self.faults.pick(
                "profil/BRUKER.csv", no_duplicate="BRUKER" not in self.last_clean, forcible=kind in ("PRAKT", "HIST")
            )
        )
        if fault is not None and fault in _EXTRA_ROW_FAULTS:
            self._emit("BRUKER", self.last_clean["BRUKER"], DUPLICATE_ID)
            fault = None
        fields = [str(bid), national_id, last, first, fodselsdato, sex, _q(address), postnr, self.poststed, phone]
        fields += [dodsdato, status]
        if fault == MALFORMED_ROW:
            fields[6] = f"{street} {number}; c/o nabo"  # an unquoted separator: one field too many
        elif fault == INVALID_DATE:
            fields[4] = _bad_no_date(dt.date.fromordinal(birth).year, rng)
        elif fault == UNKNOWN_CODE:
            if rng.random() < 0.5:
                fields[5] = "X"
            else:
                fields[11] = "PASSIV"
        elif fault == PATIENT_UNIDENTIFIABLE:
            fields[1] = fields[4] = ""
        elif fault == MISSING_NATIONAL_ID:
            fields[1] = ""
        elif fault == INVALID_NATIONAL_ID:
            fields[1] = break_check_digit(national_id)
        ok = fault is None or fault in WARNINGS
        self._emit("BRUKER", _row(*fields), fault, clean=fault is None)
        if kind == "CHILD":
            self.merge_children.append(_MergeChild(national_id, first, last, birth, sex))

        stop = end if end is not None else E
        self._vedtak(bid, kind, care, start, end, ok)
        self._journal(bid, care, start, stop, ok)
        self._medications(bid, kind, care, birth, start, end, ok)
        self._iplos(bid, start, stop, ok)
        self._parorende(bid, kind, last, ok)

    def _vedtak(self, bid: int, kind: str, care: str, start: int, end: int | None, ok: bool) -> None:
        rng, E = self.rng, self.E
        periods: list[tuple[str, int, int | None, str]] = []  # (service, from, to, hours)
        if kind == "CHILD":
            services = [rng.choice(("AVLAST", "BPA", "HJSPL"))]
        elif kind == "PRAKT":
            services = ["PRAKT"] + (["TRYGG"] if rng.random() < 0.4 else []) + (["MAT"] if rng.random() < 0.2 else [])
        elif care == "LANG":
            services = (["HJSPL"] if rng.random() < 0.6 else []) + ["LANG"]
        else:
            services = (
                ["HJSPL"]
                + (["PRAKT"] if rng.random() < _HOME_NURSING_WITH_PRACTICAL else [])
                + (["TRYGG"] if rng.random() < 0.3 else [])
            )
            services += ["KORT"] if rng.random() < 0.1 else []
            services += ["DAG"] if rng.random() < 0.05 else []
        stop = end if end is not None else E
        b: int | None
        for service in services:
            if service == "HJSPL" and care == "LANG":
                a = start - rng.randint(180, 3 * 365)
                periods.append((service, a, start - 1, self._hours(service)))
                continue
            if service == "KORT":
                a = rng.randint(start, max(start, stop - 21))
                periods.append((service, a, min(a + rng.randint(7, 21), stop), ""))
                continue
            # renewals: 1-3 consecutive decisions, the last one open or ending in the future
            cuts = sorted(rng.randint(start, stop) for _ in range(rng.choice((0, 0, 1, 2))))
            bounds = [start, *cuts, stop]
            for i in range(len(bounds) - 1):
                a = bounds[i] if i == 0 else bounds[i] + 1
                last_one = i == len(bounds) - 2
                b = bounds[i + 1]
                if last_one and end is None:
                    b = None if rng.random() < 0.6 else E + rng.randint(30, 400)
                if b is not None and b < a:
                    continue
                periods.append((service, a, b, self._hours(service)))
        if ok and rng.random() < 0.03:
            periods.append((rng.choice(("HJSPL", "LANG", "BPA")), rng.randint(start, stop), None, "AVSLAG"))
        for service, a, b, hours in periods:
            vid = self._next_id("VEDTAK")
            if hours == "AVSLAG":
                status, hours = "AVSLAG", ""
            else:
                status = "AKTIV" if b is None or b >= E else "AVSLUTTET"
            fields = [str(vid), str(bid), service, self.dates.no(a), self.dates.no(b) if b is not None else "", hours]
            fields.append(status)
            if not ok:
                self._emit("VEDTAK", _row(*fields), PARENT_QUARANTINED)
                continue
            fault = self.faults.pick("profil/VEDTAK.csv", no_duplicate="VEDTAK" not in self.last_clean)
            if fault in _EXTRA_ROW_FAULTS:
                assert fault is not None
                orphan = [str(self._next_id("VEDTAK")), str(self._orphan_id()), *fields[2:]]
                self._extra_row("VEDTAK", fault, _row(*orphan))
                fault = None
            if fault == MALFORMED_ROW:
                fields[5] = rng.choice(("7.5", "sju", "200", "1."))
            elif fault == INVALID_DATE:
                fields[3] = _bad_no_date(dt.date.fromordinal(a).year, rng)
            elif fault == UNKNOWN_CODE:
                fields[2] = rng.choice(("OMSORGSLONN", "HJEMMEHJELP", "X"))
            elif fault == PERIOD_END_BEFORE_START:
                fields[4] = self.dates.no(a - rng.randint(1, 60))
            self._emit("VEDTAK", _row(*fields), fault, clean=fault is None)

    def _hours(self, service: str) -> str:
        rng = self.rng
        if service in ("TRYGG", "MAT", "LANG", "KORT"):
            return ""
        if service in ("BPA", "AVLAST"):
            return str(rng.choice((10, 20, 24, 30, 40, 48)))
        if service == "DAG":
            return str(rng.choice((6, 12, 18)))
        halves = rng.randint(1, 40)
        return str(halves // 2) + (",5" if halves % 2 else "")

    def _note(self, care: str) -> tuple[str, str]:
        rng = self.rng
        r = rng.random()
        if r < 0.86:
            kind, pool, most = "RAPPORT", V.REPORT_SENTENCES, 5
        elif r < 0.94:
            kind, pool, most = "JOURNAL", V.JOURNAL_SENTENCES, 4
        elif r < 0.98:
            kind, pool, most = "SAMTALE", V.TALK_SENTENCES, 3
        else:
            kind, pool, most = "AVVIK", V.DEVIATION_SENTENCES, 3
        n = rng.randint(1, most)
        parts = rng.sample(pool, n)  # distinct sentences
        if n > 1 and rng.random() < 0.1:
            return kind, " ".join(parts[:-1]) + "\r\n\r\n" + parts[-1]
        return kind, " ".join(parts)

    def _journal(self, bid: int, care: str, start: int, stop: int, ok: bool) -> None:
        rng = self.rng
        per_year = {"HJSPL": 55.0, "LANG": 160.0, "PRAKT": 6.0, "CHILD": 10.0}[care]
        days = max(1, stop - start)
        n = max(1, int(days / 365.0 * per_year * (0.5 + rng.random())))
        moments = sorted(start * 1440 + int(rng.random() * days * 1440) for _ in range(n))
        staff = self.staff
        for moment in moments:
            nid = self._next_id("JOURNAL")
            day, minute = divmod(moment, 1440)
            kind, text = self._note(care)
            s = int(rng.random() * len(staff.hpr))
            fields = [str(nid), str(bid), f"{self.dates.no(day)} {_HHMM[minute]}", kind, staff.hpr[s]]
            fields += [staff.names[s], _q(text)]
            if not ok:
                self._emit("JOURNAL", _row(*fields), PARENT_QUARANTINED)
                continue
            fault = self.faults.pick("profil/JOURNAL.csv", no_duplicate="JOURNAL" not in self.last_clean)
            if fault in _EXTRA_ROW_FAULTS:
                assert fault is not None
                orphan = [str(self._next_id("JOURNAL")), str(self._orphan_id()), *fields[2:]]
                self._extra_row("JOURNAL", fault, _row(*orphan))
                fault = None
            if fault == MALFORMED_ROW:
                del fields[5]  # author name missing: one field too few
            elif fault == INVALID_DATE:
                year = dt.date.fromordinal(day).year
                fields[2] = rng.choice(
                    (f"{_bad_no_date(year, rng)} {_HHMM[minute]}", f"{self.dates.no(day)} 24:{minute % 60:02d}")
                )
            elif fault == UNKNOWN_CODE:
                fields[3] = rng.choice(("NOTAT", "EPIKRISE"))
            self._emit("JOURNAL", _row(*fields), fault, clean=fault is None)

    def _medications(self, bid: int, kind: str, care: str, birth: int, start: int, end: int | None, ok: bool) -> None:
        rng, E = self.rng, self.E
        if kind == "CHILD":
            n, handled = rng.randint(0, 2), False
        elif care == "PRAKT":
            n, handled = rng.randint(0, 3), False
        elif care == "LANG":
            n, handled = rng.randint(3, 8), True
        else:
            n, handled = rng.randint(2, 8), rng.random() < 0.6
        stop = end if end is not None else E
        window_start = E - ADMINISTRATION_HISTORY_DAYS
        for _ in range(n):
            atc, preparat, styrke, dosering, hours = V.MEDICATIONS[int(rng.random() * len(V.MEDICATIONS))]
            a = rng.randint(max(birth + 30, start - 2 * 365), max(birth + 30, stop - 1))
            r = rng.random()
            b: int | None
            if r < 0.35 or end is not None:
                b = rng.randint(a, max(a, stop - 1)) if a < stop - 1 else a
                seponert = "J" if rng.random() < 0.6 else "N"
            elif r < 0.45:
                b, seponert = E + rng.randint(14, 365), "N"
            else:
                b, seponert = None, "N"
            lid = self._next_id("LEGEMIDDEL")
            fields = [str(lid), str(bid), atc, preparat, styrke, _q(dosering), self.dates.no(a)]
            fields += [self.dates.no(b) if b is not None else "", seponert]
            med_ok = ok
            if not ok:
                self._emit("LEGEMIDDEL", _row(*fields), PARENT_QUARANTINED)
            else:
                fault = self.faults.pick("profil/LEGEMIDDEL.csv", no_duplicate="LEGEMIDDEL" not in self.last_clean)
                if fault in _EXTRA_ROW_FAULTS:
                    assert fault is not None
                    orphan = [str(self._next_id("LEGEMIDDEL")), str(self._orphan_id()), *fields[2:]]
                    self._extra_row("LEGEMIDDEL", fault, _row(*orphan))
                    fault = None
                if fault == MALFORMED_ROW:
                    fields[5] = "1 tablett morgen; 1 tablett kveld"  # unquoted separator
                elif fault == INVALID_DATE:
                    fields[6] = _bad_no_date(dt.date.fromordinal(a).year, rng)
                elif fault == UNKNOWN_CODE:
                    fields[8] = rng.choice(("X", "JA", "?"))
                elif fault == INVALID_ATC:
                    fields[2] = rng.choice((atc + "X", atc[:5], atc.lower()))
                elif fault == PERIOD_END_BEFORE_START:
                    fields[7] = self.dates.no(a - rng.randint(1, 90))
                med_ok = fault is None or fault in WARNINGS
                self._emit("LEGEMIDDEL", _row(*fields), fault, clean=fault is None)
            if handled and hours:
                first_day = max(a, start, window_start)
                last_day = min(b if b is not None else E, stop, E)  # exclusive
                if first_day < last_day:
                    self._administrations(lid, hours, first_day, last_day, med_ok)

    def _administrations(self, lid: int, hours: tuple[int, ...], first_day: int, last_day: int, ok: bool) -> None:
        rng = self.rng
        rand = rng.random
        write = self.buffers["ADMINISTRERING"].append
        clean = parent_quarantined = 0
        staff_hpr = self.staff.hpr
        n_staff = len(staff_hpr)
        slid = str(lid)
        pick = self.faults.pick
        source = "profil/ADMINISTRERING.csv"
        for day in range(first_day, last_day):
            ds = self.dates.no(day)
            for hour in hours:
                self.ids["ADMINISTRERING"] += 1
                aid = self.ids["ADMINISTRERING"]
                planned = f"{ds} {_HHMM[hour * 60]}"
                r = rand()
                if r < 0.94:
                    given = f"{ds} {_HHMM[hour * 60 - 15 + int(rand() * 60)]}"
                    row = f"{aid};{slid};{planned};{given};{staff_hpr[int(rand() * n_staff)]};GITT\r\n"
                elif r < 0.97:
                    row = f"{aid};{slid};{planned};;;IKKE_GITT\r\n"
                else:
                    row = f"{aid};{slid};{planned};{planned};;SELVADM\r\n"
                if not ok:
                    write(row)
                    parent_quarantined += 1
                    continue
                fault = pick(source, no_duplicate="ADMINISTRERING" not in self.last_clean)
                if fault is None:
                    write(row)
                    clean += 1
                    self.last_clean["ADMINISTRERING"] = row
                    continue
                if fault in _EXTRA_ROW_FAULTS:
                    self.ids["ADMINISTRERING"] += 1
                    orphan = f"{self.ids['ADMINISTRERING']};{self._orphan_id()};{planned};;;IKKE_GITT\r\n"
                    self._extra_row("ADMINISTRERING", fault, orphan)
                    write(row)
                    clean += 1
                    continue
                if fault == MALFORMED_ROW:
                    row = (
                        f"{aid};{slid};{planned};{planned};{staff_hpr[0]};IKKE_GITT\r\n"
                        if rand() < 0.5
                        else f"{aid};{slid};{planned};;{staff_hpr[0]};GITT\r\n"
                    )
                elif fault == INVALID_DATE:
                    bad = _bad_no_date(dt.date.fromordinal(day).year, rng)
                    row = f"{aid};{slid};{bad} {_HHMM[hour * 60]};;;IKKE_GITT\r\n"
                elif fault == UNKNOWN_CODE:
                    row = f"{aid};{slid};{planned};;;{rng.choice(('UTSATT', 'KASSERT'))}\r\n"
                write(row)
                self._count(source, fault)
        self._count_many(source, clean, parent_quarantined)
        if len(self.buffers["ADMINISTRERING"]) >= 4096:
            self._flush("ADMINISTRERING")

    def _iplos(self, bid: int, start: int, stop: int, ok: bool) -> None:
        rng = self.rng
        level = rng.randint(1, 4)
        day = start + rng.randint(0, 30)
        while day < stop:
            ds = self.dates.no(day)
            for variable in V.IPLOS_VARIABLES:
                r = rng.random()
                score = "9" if r < 0.02 else str(min(5, max(1, level + int(r * 3) - 1)))
                fields = [str(bid), ds, variable, score]
                if not ok:
                    self._emit("IPLOS", _row(*fields), PARENT_QUARANTINED)
                    continue
                fault = self.faults.pick("profil/IPLOS.csv", no_duplicate="IPLOS" not in self.last_clean)
                if fault in _EXTRA_ROW_FAULTS:
                    assert fault is not None
                    orphan = [str(self._orphan_id()), *fields[1:]]
                    self._extra_row("IPLOS", fault, _row(*orphan))
                    fault = None
                if fault == MALFORMED_ROW:
                    fields[3] = rng.choice(("tre", "2,5", "x"))
                elif fault == INVALID_DATE:
                    fields[1] = _bad_no_date(dt.date.fromordinal(day).year, rng)
                elif fault == UNKNOWN_CODE:
                    # Derived from the variable, so the row's key (BrukerID, Dato, Variabel) stays unique.
                    fields[2] = rng.choice((f"{variable}_GML", f"GML_{variable}"))
                self._emit("IPLOS", _row(*fields), fault, clean=fault is None)
            level = min(5, level + (1 if rng.random() < 0.3 else 0))
            day += rng.randint(300, 430)

    def _parorende(self, bid: int, kind: str, last: str, ok: bool) -> None:
        rng = self.rng
        if kind == "CHILD":
            relations = ["FORELDER", "FORELDER"]
        else:
            n = rng.choice((0, 1, 1, 2, 2, 3)) if kind != "PRAKT" else rng.choice((0, 1, 2))
            relations = [rng.choice(("EKTEFELLE", "BARN", "BARN", "SOSKEN", "ANNEN")) for _ in range(n)]
        for priority, relation in enumerate(relations, start=1):
            pid = self._next_id("PARORENDE")
            male = rng.random() < 0.5
            first, surname = self._person_name(male)
            if relation in ("FORELDER", "EKTEFELLE", "BARN") and rng.random() < 0.7:
                surname = last
            fields = [str(pid), str(bid), f"{first} {surname}", relation, self._phone(), str(priority)]
            if not ok:
                self._emit("PARORENDE", _row(*fields), PARENT_QUARANTINED)
                continue
            fault = self.faults.pick("profil/PARORENDE.csv", no_duplicate="PARORENDE" not in self.last_clean)
            if fault in _EXTRA_ROW_FAULTS:
                assert fault is not None
                orphan = [str(self._next_id("PARORENDE")), str(self._orphan_id()), *fields[2:]]
                self._extra_row("PARORENDE", fault, _row(*orphan))
                fault = None
            if fault == MALFORMED_ROW:
                del fields[4]  # phone missing: one field too few
            elif fault == UNKNOWN_CODE:
                fields[3] = rng.choice(("VENN", "NABO", "VERGE"))
            self._emit("PARORENDE", _row(*fields), fault, clean=fault is None)

    # -- CGM -----------------------------------------------------------------------------------

    def _write_cgm(self) -> None:
        folder = self.out_dir / "cgm"
        folder.mkdir(exist_ok=True)
        stamp = self.extract_time.isoformat(timespec="seconds")
        with open(folder / "helsestasjon.xml", "w", encoding="utf-8", newline="\n") as out:
            out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
            out.write(
                f"<!-- CGM Helsestasjon {CGM_VERSION}: uttrekk for kommune {self.kommunenr} (syntetiske data) -->\n"
            )
            out.write(f'<HelsestasjonUttrekk kommunenr="{self.kommunenr}" uttrekkstidspunkt="{stamp}" ')
            out.write(f'versjon="{CGM_VERSION}">\n')
            merged = list(self.merge_children)
            n = max(self.n_children, len(merged))
            step = max(1, n // (len(merged) + 1)) if merged else n + 1
            hid = 100_000
            for i in range(n):
                hid += self.rng.choice((1, 1, 2, 3))
                child = merged.pop(0) if merged and (i % step == step - 1 or n - i <= len(merged)) else None
                out.write(self._barn(hid, child))
            out.write("</HelsestasjonUttrekk>\n")

    def _barn(self, hid: int, merged: _MergeChild | None) -> str:
        rng, E, dates = self.rng, self.E, self.dates
        conflict = False
        if merged is not None:
            birth, sex, national_id = merged.birth, merged.sex, merged.national_id
            first, last = merged.first, merged.last
            fault = None
            if self.faults.force("merge", CONFLICTING_DEMOGRAPHICS) or (
                rng.random() < self.fault_rates.conflicting_demographics
            ):
                conflict = True
                first = f"{first} {rng.choice(('Sofie', 'Marie', 'Emil', 'Andreas'))}"
        else:
            birth = E - rng.randint(1, 6 * 365 - 1)
            sex = "K" if rng.random() < 0.49 else "M"
            first, last = self._person_name(sex == "M", generation=2)
            newborn = E - birth < 14 and rng.random() < 0.7
            fault = self.faults.pick("cgm/Barn", no_duplicate=self.last_barn is None)
            if newborn and fault == INVALID_NATIONAL_ID:
                newborn = False
            national_id = "" if newborn else self._national_id(birth, sex == "M")
            if fault is None and newborn:
                fault = MISSING_NATIONAL_ID
            if fault == DUPLICATE_ID:
                # A second registration of an earlier child (same id): quarantined with everything in it.
                assert self.last_barn is not None
                id_attr = f' id="{self.last_barn}"'
            elif fault == MALFORMED_ROW:
                id_attr = ""
            else:
                id_attr = f' id="H{hid}"'
        if merged is not None:
            id_attr = f' id="H{hid}"'
        fodselsdato = dates.iso(birth)
        if fault == INVALID_DATE:
            fodselsdato = _bad_iso_date(dt.date.fromordinal(birth).year, rng)
        elif fault == UNKNOWN_CODE:
            sex = rng.choice(("X", "J", "kvinne"))
        elif fault == MISSING_NATIONAL_ID:
            national_id = ""
        elif fault == INVALID_NATIONAL_ID:
            national_id = break_check_digit(national_id)
        ok = fault is None or fault in WARNINGS
        if merged is not None:
            self.patients_merged += 1
            if conflict:
                self.warnings[CONFLICTING_DEMOGRAPHICS] += 1
        self._count("cgm/Barn", fault)
        if ok and fault is None and id_attr:
            self.last_barn = f"H{hid}"

        lines = [f"  <Barn{id_attr}>\n"]
        if national_id:
            lines.append(f"    <Fodselsnummer>{national_id}</Fodselsnummer>\n")
        lines.append(f"    <Fodselsdato>{fodselsdato}</Fodselsdato>\n")
        lines.append(f"    <Fornavn>{escape(first)}</Fornavn><Etternavn>{escape(last)}</Etternavn>\n")
        lines.append(f"    <Kjonn>{sex}</Kjonn>\n")
        lines += self._foresatte(last, ok)
        consultations, measurements, vaccinations = self._programme(birth, ok)
        lines += consultations
        lines += measurements
        lines += vaccinations
        lines.append("  </Barn>\n")
        return "".join(lines)

    def _child_fault(self, source: str, ok: bool, key: str) -> str | None:
        if not ok:
            self._count(source, PARENT_QUARANTINED)
            return PARENT_QUARANTINED
        return self.faults.pick(source, no_duplicate=key not in self.last_clean)

    def _foresatte(self, child_last: str, ok: bool) -> list[str]:
        rng, E = self.rng, self.E
        lines = []
        roles = ["MOR", "FAR"] if rng.random() < 0.88 else rng.choice((["MOR"], ["FAR"], ["MOR", "ANNEN"]))
        for role in roles:
            male = role == "FAR" or (role == "ANNEN" and rng.random() < 0.5)
            first, last = self._person_name(male, generation=1)
            if rng.random() < 0.6:
                last = child_last
            birth = E - rng.randint(20 * 365, 50 * 365)
            fnr = self._national_id(birth, male)
            attrs = f'fnr="{fnr}" relasjon="{role}"'
            fault = self._child_fault("cgm/Foresatt", ok, "Foresatt")
            if fault == MALFORMED_ROW:
                attrs = f'fnr="{fnr}"' if rng.random() < 0.5 else f'relasjon="{role}"'
            elif fault == UNKNOWN_CODE:
                attrs = f'fnr="{fnr}" relasjon="{rng.choice(("STEFAR", "BESTEMOR", "mor"))}"'
            line = f"    <Foresatt {attrs}>{escape(first)} {escape(last)}</Foresatt>\n"
            if fault != PARENT_QUARANTINED:
                self._count("cgm/Foresatt", fault)
            lines.append(line)
        return lines

    def _programme(self, birth: int, ok: bool) -> tuple[list[str], list[str], list[str]]:
        rng, E, dates = self.rng, self.E, self.dates
        consultations: list[str] = []
        measurements: list[str] = []
        vaccinations: list[str] = []
        factor = 0.9 + rng.random() * 0.2
        doses: Counter[str] = Counter()
        visits = [(age, kind, head, vaccines) for age, kind, head, vaccines in V.CHILD_PROGRAMME]
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            visits.append((rng.randint(10, 6 * 365), "KONTROLL", False, ()))
        visits.sort()
        for age, kind, head, vaccines in visits:
            day = birth + age + rng.randint(-4, 10)
            if day >= E:
                continue
            ds = dates.iso(day)
            # Konsultasjon
            n = rng.randint(1, 3)
            text = " ".join(
                V.CONSULTATION_SENTENCES[int(rng.random() * len(V.CONSULTATION_SENTENCES))] for _ in range(n)
            )
            self.ids["Konsultasjon"] += 1
            kid = f"K{self.ids['Konsultasjon']}"
            line = f'    <Konsultasjon id="{kid}" dato="{ds}" type="{kind}">{escape(text)}</Konsultasjon>\n'
            fault = self._child_fault("cgm/Konsultasjon", ok, "Konsultasjon")
            if fault == DUPLICATE_ID:
                consultations.append(self.last_clean["Konsultasjon"])
                self._count("cgm/Konsultasjon", DUPLICATE_ID)
                fault = None
            if fault == MALFORMED_ROW:
                line = f'    <Konsultasjon id="{kid}" type="{kind}">{escape(text)}</Konsultasjon>\n'
            elif fault == INVALID_DATE:
                line = line.replace(f'dato="{ds}"', f'dato="{_bad_iso_date(dt.date.fromordinal(day).year, rng)}"')
            if fault != PARENT_QUARANTINED:
                self._count("cgm/Konsultasjon", fault)
                if fault is None:
                    self.last_clean["Konsultasjon"] = line
            consultations.append(line)
            # Maaling
            months = (day - birth) / 30.44
            values = {
                "VEKT": (_weight(months) * factor, "kg", 2),
                "LENGDE": (_length(months) * factor**0.5, "cm", 1),
                "HODEOMKRETS": (_head(months) * factor**0.3, "cm", 1),
            }
            for mtype in ("VEKT", "LENGDE", "HODEOMKRETS") if head else ("VEKT", "LENGDE"):
                value, unit, decimals = values[mtype]
                verdi = f"{value:.{decimals}f}".replace(".", ",")
                self.ids["Maaling"] += 1
                mid = f"M{self.ids['Maaling']}"
                fault = self._child_fault("cgm/Maaling", ok, "Maaling")
                if fault == DUPLICATE_ID:
                    measurements.append(self.last_clean["Maaling"])
                    self._count("cgm/Maaling", DUPLICATE_ID)
                    fault = None
                mdate, mattr = ds, ""
                if fault == MALFORMED_ROW:
                    if rng.random() < 0.5:
                        unit = {"kg": "g", "cm": "mm"}[unit]
                    else:
                        verdi = verdi.replace(",", ".")
                elif fault == INVALID_DATE:
                    mdate = _bad_iso_date(dt.date.fromordinal(day).year, rng)
                elif fault == UNKNOWN_CODE:
                    mtype, unit = rng.choice((("BMI", "kg/m2"), ("BLODTRYKK", "mmHg")))
                line = (
                    f'    <Maaling id="{mid}" dato="{mdate}" type="{mtype}" verdi="{verdi}" enhet="{unit}"{mattr}/>\n'
                )
                if fault != PARENT_QUARANTINED:
                    self._count("cgm/Maaling", fault)
                    if fault is None:
                        self.last_clean["Maaling"] = line
                measurements.append(line)
            # Vaksinasjon
            for atc in vaccines:
                doses[atc] += 1
                self.ids["Vaksinasjon"] += 1
                vid = f"V{self.ids['Vaksinasjon']}"
                batch = f"{rng.choice(V.VACCINE_BATCH_PREFIXES)}{rng.randint(1000, 99999)}"
                fault = self._child_fault("cgm/Vaksinasjon", ok, "Vaksinasjon")
                if fault == DUPLICATE_ID:
                    vaccinations.append(self.last_clean["Vaksinasjon"])
                    self._count("cgm/Vaksinasjon", DUPLICATE_ID)
                    fault = None
                vdate, vatc, dose = f' dato="{ds}"', atc, f' dose="{doses[atc]}"'
                if fault == MALFORMED_ROW:
                    dose = ""
                elif fault == INVALID_DATE:
                    vdate = f' dato="{_bad_iso_date(dt.date.fromordinal(day).year, rng)}"'
                elif fault == INVALID_ATC:
                    vatc = rng.choice((atc + "X", atc[:4], "MMR"))
                line = f'    <Vaksinasjon id="{vid}"{vdate} atc={quoteattr(vatc)}{dose} batch="{batch}"/>\n'
                if fault != PARENT_QUARANTINED:
                    self._count("cgm/Vaksinasjon", fault)
                    if fault is None:
                        self.last_clean["Vaksinasjon"] = line
                vaccinations.append(line)
        return consultations, measurements, vaccinations


def _weight(months: float) -> float:
    m = max(0.0, months)
    return 3.5 + 0.75 * min(m, 6) + 0.35 * max(0.0, min(m, 12) - 6) + 0.2 * max(0.0, m - 12)


def _length(months: float) -> float:
    m = max(0.0, months)
    return (
        50 + 3.5 * min(m, 3) + 2 * max(0.0, min(m, 6) - 3) + 1.5 * max(0.0, min(m, 12) - 6)
        + 0.9 * max(0.0, min(m, 24) - 12) + 0.6 * max(0.0, m - 24)
    )  # fmt: skip


def _head(months: float) -> float:
    m = max(0.0, months)
    return (
        35 + 1.8 * min(m, 3) + 0.9 * max(0.0, min(m, 6) - 3) + 0.45 * max(0.0, min(m, 12) - 6) + 0.15 * max(0.0, m - 12)
    )


# --- public API ------------------------------------------------------------------------------------


def generate_extract(
    out_dir: Path,
    kommunenr: str,
    scale: float = 1.0,
    seed: int = 0,
    *,
    progress: Callable[[int], None] | None = None,
    faults: FaultRates | None = None,
    population: int | None = None,
    systems: Iterable[str] | None = None,
    extract_time: dt.datetime = DEFAULT_EXTRACT_TIME,
) -> GenerateSummary:
    """Write a synthetic, SPEC-conformant extract for `kommunenr` into `out_dir` and say what it holds.

    Sizes follow the tenant's population (``epj.tenants``) times `scale`; give `population` for a
    kommunenr that is not a tenant (or to override). `systems` defaults to the tenant's legacy
    systems (both for an unknown kommunenr). `faults=None` injects a small default share of data
    problems; ``FaultRates.clean()`` injects none. `progress`, if given, is called with the number
    of records written so far every 10,000 records and once at the end. Existing extract files in
    `out_dir` are overwritten; the manifest is written last.
    """
    if not (len(kommunenr) == 4 and kommunenr.isdigit()):
        raise ValueError(f"kommunenr must be 4 digits, got {kommunenr!r}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    name = f"Kommune {kommunenr}"
    tenant_systems: tuple[str, ...] = ("profil", "cgm")
    if population is None or systems is None:
        from epj.tenants import load_tenants

        try:
            tenant = load_tenants().get(kommunenr)
        except KeyError:
            if population is None:
                raise ValueError(f"kommunenr {kommunenr} is not a tenant; give its population explicitly") from None
        else:
            name = tenant.name
            population = tenant.population.inhabitants if population is None else population
            tenant_systems = tuple(str(s.value) for s in tenant.legacy_systems)
    assert population is not None
    chosen = tuple(s for s in ("profil", "cgm") if s in (tuple(systems) if systems is not None else tenant_systems))
    if not chosen:
        raise ValueError("systems must include 'profil' and/or 'cgm'")
    generator = _Generator(
        Path(out_dir),
        kommunenr,
        name,
        population,
        scale,
        seed,
        faults if faults is not None else FaultRates(),
        chosen,
        extract_time,
        progress,
    )
    return generator.run()


# Records per inhabitant at scale 1.0 (measured on Stjørdal extracts, scale 1 and 10), for progress totals.
_RECORDS_PER_INHABITANT: Final = {"profil": 45.5, "cgm": 3.2}


def estimate_records(population: int, scale: float = 1.0, systems: Iterable[str] = ("profil", "cgm")) -> int:
    """Roughly how many records `generate_extract` writes (within ~10% at scale >= 0.5): a progress-bar total."""
    return round(population * scale * sum(_RECORDS_PER_INHABITANT.get(s, 0.0) for s in set(systems)))


def _csv_records(path: Path) -> Iterator[int]:
    """Yield, after each CSV record (header included), the number of physical lines read so far."""
    with open(path, encoding="cp1252", newline="") as handle:
        reader = csv.reader(handle, delimiter=";", quotechar='"')
        for _ in reader:
            yield reader.line_num


def truncate_extract(extract_dir: Path, file: str, drop_rows: int) -> int:
    """Drop the last `drop_rows` records of one extract file, leaving UTTREKK.txt as it was.

    Simulates an extract cut short in transfer: the manifest then disagrees with the content and
    a migration must stop with EXTRACT_INCOMPLETE. `file` is a Profil file (``JOURNAL``,
    ``JOURNAL.csv`` or ``profil/JOURNAL.csv``) or the CGM file (``cgm``, ``cgm/helsestasjon.xml``;
    drops ``<Barn>`` elements, which must start and end on their own lines as the generator writes
    them). Returns how many records were dropped (fewer if the file had fewer).
    """
    if drop_rows < 0:
        raise ValueError("drop_rows must not be negative")
    extract_dir = Path(extract_dir)
    if file in ("cgm", CGM_FILE, "helsestasjon.xml"):
        return _truncate_xml(extract_dir / CGM_FILE, drop_rows)
    name = file.removeprefix("profil/").removesuffix(".csv")
    if name not in PROFIL_COLUMNS:
        raise ValueError(f"unknown extract file {file!r}; expected one of {', '.join(PROFIL_FILES)} or cgm")
    path = extract_dir / "profil" / f"{name}.csv"
    records = sum(1 for _ in _csv_records(path)) - 1
    drop = min(drop_rows, records)
    keep_lines = 0
    for index, line_num in enumerate(_csv_records(path)):
        if index == records - drop:
            keep_lines = line_num
            break
    tmp = path.with_suffix(".csv.tmp")
    with open(path, encoding="cp1252", newline="") as src, open(tmp, "w", encoding="cp1252", newline="") as dst:
        for number, line in enumerate(src, start=1):
            if number > keep_lines:
                break
            dst.write(line)
    os.replace(tmp, path)
    return drop


def _truncate_xml(path: Path, drop: int) -> int:
    with open(path, encoding="utf-8") as handle:
        total = sum(1 for line in handle if line.lstrip().startswith(("<Barn>", "<Barn ")))
    drop = min(drop, total)
    keep = total - drop
    tmp = path.with_suffix(".xml.tmp")
    seen = 0
    with open(path, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8", newline="\n") as dst:
        skipping = False
        for line in src:
            stripped = line.lstrip()
            if stripped.startswith(("<Barn>", "<Barn ")):
                seen += 1
                skipping = seen > keep
            if stripped.startswith("</HelsestasjonUttrekk"):
                skipping = False
            if not skipping:
                dst.write(line)
    os.replace(tmp, path)
    return drop
