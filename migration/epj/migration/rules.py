"""The decision for every source record: migrate (to which FHIR resources) or quarantine (why).

SPEC §5 and §7 are implemented here, record by record, in the order the pipeline reads them:
Profil BRUKER first (every other Profil file points at it), then VEDTAK, JOURNAL, LEGEMIDDEL,
ADMINISTRERING (points at LEGEMIDDEL), IPLOS, PARORENDE, then the CGM children one `<Barn>` at a time.
A record's reason is the first of the SPEC §5 table that applies:
MALFORMED_ROW, INVALID_DATE, DUPLICATE_ID, UNKNOWN_PARENT, PARENT_QUARANTINED, UNKNOWN_CODE,
PATIENT_UNIDENTIFIABLE. Ids of every read record (migrated or not) count as seen for DUPLICATE_ID,
and a parent's fate is that of its *first* occurrence.

Patients are held back until the end (:meth:`ExtractRules.finish`) because a later source record
with the same valid national id folds into an earlier Patient (adding its legacy identifier); every
other resource is handed to ``emit`` as soon as it is decided. The state kept per run is one small
entry per parent record (patients, medications) and one integer per seen id: it grows with the
number of records but not with their size.

Domain core: no I/O beyond what the caller passes in, no adapters.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from epj.migration import mapping
from epj.migration.codes import (
    ADM_STATUS,
    ATC_RE,
    BRUKER_STATUS,
    CONFLICTING_DEMOGRAPHICS,
    DUPLICATE_ID,
    INVALID_ATC,
    INVALID_DATE,
    INVALID_NATIONAL_ID,
    IPLOS_SKAAR,
    IPLOS_VARIABLER,
    KJONN,
    MAALING,
    MALFORMED_ROW,
    MISSING_NATIONAL_ID,
    NOTATTYPE,
    PARENT_QUARANTINED,
    PATIENT_UNIDENTIFIABLE,
    PERIOD_END_BEFORE_START,
    PROFIL_COLUMNS,
    RELASJON_CGM,
    RELASJON_PROFIL,
    SEPONERT,
    TJENESTE,
    UNKNOWN_CODE,
    UNKNOWN_PARENT,
    VEDTAK_STATUS,
    cgm_source,
    legacy_system,
    profil_source,
)
from epj.migration.explain import explain_cgm, explain_profil
from epj.migration.identity import NationalId, check_national_id, resource_id
from epj.migration.reconciliation import Tally
from epj.migration.values import (
    parse_decimal,
    parse_int,
    parse_iso_date,
    parse_no_date,
    parse_no_timestamp,
    parse_positive_id,
)

Resource = dict[str, Any]
# emit(resource, patient_id, source): one FHIR resource decided for the target.
Emit = Callable[[Resource, str, str], None]

_MAX_KEY = 64  # a source key in a report is cut to this length (a broken row must not leak its content)


def _key(text: str | None) -> str:
    return (text or "")[:_MAX_KEY]


def _why_profil(source: str, reason: str, row: list[str]) -> dict[str, str]:
    """``field``/``rule`` of a quarantined Profil record (only computed for quarantined records)."""
    field_, rule = explain_profil(source.removeprefix("profil/").removesuffix(".csv"), reason, row)
    return {"field": field_, "rule": rule}


def _why_cgm(elem: ET.Element, reason: str) -> dict[str, str]:
    field_, rule = explain_cgm(elem, reason)
    return {"field": field_, "rule": rule}


class IdSet:
    """Seen source ids: a bitmap for the usual dense positive ids (1 bit each, so millions of ids cost
    a few hundred KB), a set for the rare huge ones. Keeps memory flat as extracts grow."""

    BITMAP_LIMIT = 1 << 27  # ids below this live in the bitmap (at most 16 MB)

    __slots__ = ("_bits", "_other")

    def __init__(self) -> None:
        self._bits = bytearray()
        self._other: set[int] = set()

    def add_seen(self, key: int) -> bool:
        """Record `key`; True when it was already there."""
        if 0 <= key < self.BITMAP_LIMIT:
            byte, bit = key >> 3, 1 << (key & 7)
            bits = self._bits
            if byte >= len(bits):
                bits.extend(bytes(max(byte + 1 - len(bits), len(bits))))
            if bits[byte] & bit:
                return True
            bits[byte] |= bit
            return False
        if key in self._other:
            return True
        self._other.add(key)
        return False


@dataclass
class _PatientEntry:
    """A Patient being assembled; kept until the end so later source records can fold into it."""

    resource: Resource
    source: str
    given: str
    family: str


@dataclass
class _Medication:
    """What an ADMINISTRERING row needs from its LEGEMIDDEL parent."""

    patient_id: str
    statement_id: str
    concept: dict[str, Any]


@dataclass
class ExtractRules:
    """Decides and maps every record of one extract; counts everything in ``tally``."""

    kommunenr: str
    extract_date: dt.date
    allow_synthetic: bool
    tally: Tally
    emit: Emit
    bruker: dict[int, str | None] = field(default_factory=dict)  # BrukerID → patient id | None (quarantined)
    legemiddel: dict[int, _Medication | None] = field(default_factory=dict)
    seen: dict[str, IdSet] = field(default_factory=dict)
    seen_text: dict[str, set[str]] = field(default_factory=dict)
    patients: dict[str, _PatientEntry] = field(default_factory=dict)
    by_national_id: dict[str, str] = field(default_factory=dict)
    conflicts: set[str] = field(default_factory=set)
    _concepts: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    _iplos_vars: dict[str, int] = field(default_factory=dict)
    _handlers: dict[str, Callable[[int, list[str]], None]] = field(default_factory=dict)

    # ---------------------------------------------------------------- helpers
    def _seen_before(self, source: str, key: int | None) -> bool:
        """Register an id as seen; True when an earlier record of the same source had it."""
        if key is None:
            return False
        seen = self.seen.get(source)
        if seen is None:
            seen = self.seen[source] = IdSet()
        return seen.add_seen(key)

    def _seen_text_before(self, source: str, key: str | None) -> bool:
        if not key:
            return False
        seen = self.seen_text.setdefault(source, set())
        if key in seen:
            return True
        seen.add(key)
        return False

    def _parent(self, bruker_id: int) -> tuple[str | None, str | None]:
        """(patient id, reason) for a BrukerID reference."""
        if bruker_id not in self.bruker:
            return None, UNKNOWN_PARENT
        pid = self.bruker[bruker_id]
        return (pid, None) if pid is not None else (None, PARENT_QUARANTINED)

    def _migrated(self, source: str) -> None:
        self.tally.source(source).migrated += 1

    def _emit(self, resource: Resource, patient_id: str, source: str) -> None:
        self.tally.resources[resource["resourceType"]] += 1
        self.emit(resource, patient_id, source)

    def _period_end(self, start: dt.date, end: dt.date | None) -> dt.date | None:
        if end is not None and end < start:
            self.tally.warnings[PERIOD_END_BEFORE_START] += 1
            return None
        return end

    def _national_id(self, number: str) -> NationalId | None:
        return check_national_id(number, allow_synthetic=self.allow_synthetic) if number else None

    def _identity_warnings(self, number: str, nid: NationalId | None) -> None:
        if not number:
            self.tally.warnings[MISSING_NATIONAL_ID] += 1
        elif nid is None:
            self.tally.warnings[INVALID_NATIONAL_ID] += 1

    def _register_patient(
        self,
        *,
        nid: NationalId | None,
        legacy: dict[str, str],
        source: str,
        legacy_key: str,
        given: str,
        family: str,
        source_birth: dt.date | None,
        build: Callable[[str, list[dict[str, str]]], Resource],
    ) -> str:
        """The Patient id for a migrated patient record, folding it into an existing Patient when the
        same valid national id was seen before (SPEC §4, §7: patients_merged, CONFLICTING_DEMOGRAPHICS)."""
        if nid is not None and nid.value in self.by_national_id:
            pid = self.by_national_id[nid.value]
            entry = self.patients[pid]
            entry.resource["identifier"].append(legacy)
            self.tally.patients_merged += 1
            # Birth dates are compared with the national id's, which every record sharing the id must match:
            # a first record that disagreed was flagged when it was registered, so comparing two records'
            # dates with each other would add nothing.
            names_differ = (given, family) != (entry.given, entry.family)
            if names_differ or (source_birth is not None and source_birth != nid.birth_date):
                self.conflicts.add(pid)
            return pid
        pid = resource_id(self.kommunenr, source, legacy_key)
        identifiers = [{"use": "official", "system": nid.system, "value": nid.value}] if nid else []
        identifiers.append(legacy)
        self.patients[pid] = _PatientEntry(build(pid, identifiers), source, given, family)
        if nid is not None:
            self.by_national_id[nid.value] = pid
            if source_birth is not None and source_birth != nid.birth_date:
                self.conflicts.add(pid)  # the id's birth date wins; the record is flagged
        return pid

    # ---------------------------------------------------------------- Profil
    def profil(self, name: str, record: int, row: list[str]) -> None:
        """Decide one Profil record (`record` is its 1-based number among the file's data records)."""
        handler = self._handlers.get(name)
        if handler is None:
            handler = self._handlers[name] = self.profil_handler(name)
        handler(record, row)

    def profil_handler(self, name: str) -> Callable[[int, list[str]], None]:
        """The decision function for the records of one Profil file (hot path: no per-record lookups)."""
        source = profil_source(name)
        tally = self.tally.source(source)
        width = len(PROFIL_COLUMNS[name])
        decide = getattr(self, f"_profil_{name.lower()}")

        def handle(record: int, row: list[str]) -> None:
            tally.read += 1
            decide(source, record, row, len(row) == width)

        return handle

    def _profil_bruker(self, source: str, record: int, row: list[str], shape_ok: bool) -> None:
        bid = parse_positive_id(row[0])
        reason: str | None = None if shape_ok and bid is not None else MALFORMED_ROW
        fnr = etternavn = fornavn = kjonn = adresse = postnr = poststed = tlf = status = ""
        fdato = dod = None
        if reason is None:
            fnr, etternavn, fornavn, fdato_s, kjonn, adresse, postnr, poststed, tlf, dod_s, status = row[1:]
            fdato = parse_no_date(fdato_s) if fdato_s else None
            dod = parse_no_date(dod_s) if dod_s else None
            if (fdato_s and fdato is None) or (dod_s and dod is None):
                reason = INVALID_DATE
        duplicate = self._seen_before(source, bid)
        if reason is None and duplicate:
            reason = DUPLICATE_ID
        if reason is None and (kjonn not in KJONN or status not in BRUKER_STATUS):
            reason = UNKNOWN_CODE
        nid = self._national_id(fnr) if reason is None else None
        if reason is None and nid is None and fdato is None:
            reason = PATIENT_UNIDENTIFIABLE
        if reason is not None:
            if bid is not None and not duplicate:
                self.bruker[bid] = None
            self.tally.quarantined(
                source, reason, record=record, key=str(bid) if bid else "", **_why_profil(source, reason, row)
            )
            return
        assert bid is not None
        self._identity_warnings(fnr, nid)
        legacy = mapping.legacy_identifier(legacy_system(self.kommunenr, "profil", "bruker"), str(bid))

        def build(pid: str, identifiers: list[dict[str, str]]) -> Resource:
            return mapping.patient(
                pid,
                identifiers=identifiers,
                family=etternavn,
                given=fornavn,
                gender_code=kjonn,
                birth_date=nid.birth_date if nid else fdato,
                address=adresse,
                postal_code=postnr,
                city=poststed,
                phone=tlf,
                deceased=dod,
                active=status == "AKTIV",
            )

        pid = self._register_patient(
            nid=nid,
            legacy=legacy,
            source=source,
            legacy_key=str(bid),
            given=fornavn,
            family=etternavn,
            source_birth=fdato,
            build=build,
        )
        self.bruker[bid] = pid
        self._migrated(source)

    def _profil_vedtak(self, source: str, record: int, row: list[str], shape_ok: bool) -> None:
        vid = parse_positive_id(row[0])
        reason: str | None = None
        bid = timer = start = end = None
        tjeneste = status = ""
        if not shape_ok or vid is None:
            reason = MALFORMED_ROW
        else:
            _, bid_s, tjeneste, fra_s, til_s, timer_s, status = row
            bid = parse_positive_id(bid_s)
            if timer_s:
                timer = parse_decimal(timer_s)
            if bid is None or (timer_s and (timer is None or timer > 168)):
                reason = MALFORMED_ROW
            else:
                start = parse_no_date(fra_s) if fra_s else None
                end = parse_no_date(til_s) if til_s else None
                if start is None or (til_s and end is None):
                    reason = INVALID_DATE
        if self._seen_before(source, vid) and reason is None:
            reason = DUPLICATE_ID
        pid = None
        if reason is None:
            assert bid is not None
            pid, reason = self._parent(bid)
        if reason is None and (tjeneste not in TJENESTE or status not in VEDTAK_STATUS):
            reason = UNKNOWN_CODE
        if reason is not None:
            self.tally.quarantined(
                source, reason, record=record, key=str(vid) if vid else "", **_why_profil(source, reason, row)
            )
            return
        assert vid is not None and pid is not None and start is not None
        end = self._period_end(start, end)
        rid = resource_id(self.kommunenr, source, str(vid))
        res = mapping.episode_of_care(
            rid,
            identifier=mapping.legacy_identifier(legacy_system(self.kommunenr, "profil", "vedtak"), str(vid)),
            patient_id=pid,
            tjeneste=tjeneste,
            status=status,
            start=start,
            end=end,
            timer_pr_uke=timer,
        )
        self._emit(res, pid, source)
        self._migrated(source)

    def _profil_journal(self, source: str, record: int, row: list[str], shape_ok: bool) -> None:
        nid_ = parse_positive_id(row[0])
        reason: str | None = None
        bid = None
        ts: str | None = None
        notattype = hpr = navn = tekst = ""
        if not shape_ok or nid_ is None:
            reason = MALFORMED_ROW
        else:
            _, bid_s, ts_s, notattype, hpr, navn, tekst = row
            bid = parse_positive_id(bid_s)
            if bid is None or (hpr and parse_int(hpr) is None):
                reason = MALFORMED_ROW
            else:
                ts = parse_no_timestamp(ts_s) if ts_s else None
                if ts is None:
                    reason = INVALID_DATE
        if self._seen_before(source, nid_) and reason is None:
            reason = DUPLICATE_ID
        pid = None
        if reason is None:
            assert bid is not None
            pid, reason = self._parent(bid)
        if reason is None and notattype not in NOTATTYPE:
            reason = UNKNOWN_CODE
        if reason is not None:
            self.tally.quarantined(
                source, reason, record=record, key=str(nid_) if nid_ else "", **_why_profil(source, reason, row)
            )
            return
        assert nid_ is not None and pid is not None and ts is not None
        rid = resource_id(self.kommunenr, source, str(nid_))
        res = mapping.document_reference(
            rid,
            identifier=mapping.legacy_identifier(legacy_system(self.kommunenr, "profil", "notat"), str(nid_)),
            patient_id=pid,
            notattype=notattype,
            timestamp=ts,
            author_hpr=hpr,
            author_name=navn,
            text=tekst,
        )
        self._emit(res, pid, source)
        self._migrated(source)

    def _concept(self, atc: str, preparat: str, styrke: str, valid: bool) -> dict[str, Any]:
        """One shared medication concept per distinct (ATC, name, strength): keeps the parent map small."""
        key = (atc, preparat, styrke)
        concept = self._concepts.get(key)
        if concept is None:
            concept = self._concepts[key] = mapping.medication_concept(atc, valid, preparat, styrke)
        return concept

    def _profil_legemiddel(self, source: str, record: int, row: list[str], shape_ok: bool) -> None:
        lid = parse_positive_id(row[0])
        reason: str | None = None
        bid = start = end = None
        atc = preparat = styrke = dosering = seponert = ""
        if not shape_ok or lid is None:
            reason = MALFORMED_ROW
        else:
            _, bid_s, atc, preparat, styrke, dosering, fra_s, til_s, seponert = row
            bid = parse_positive_id(bid_s)
            if bid is None:
                reason = MALFORMED_ROW
            else:
                start = parse_no_date(fra_s) if fra_s else None
                end = parse_no_date(til_s) if til_s else None
                if start is None or (til_s and end is None):
                    reason = INVALID_DATE
        duplicate = self._seen_before(source, lid)
        if reason is None and duplicate:
            reason = DUPLICATE_ID
        pid = None
        if reason is None:
            assert bid is not None
            pid, reason = self._parent(bid)
        if reason is None and seponert not in SEPONERT:
            reason = UNKNOWN_CODE
        if reason is not None:
            if lid is not None and not duplicate:
                self.legemiddel[lid] = None
            self.tally.quarantined(
                source, reason, record=record, key=str(lid) if lid else "", **_why_profil(source, reason, row)
            )
            return
        assert lid is not None and pid is not None and start is not None
        atc_valid = ATC_RE.fullmatch(atc) is not None
        if not atc_valid:
            self.tally.warnings[INVALID_ATC] += 1
        if seponert == "J":
            status = "stopped"
        elif end is not None and end < self.extract_date:
            status = "completed"
        else:
            status = "active"
        end = self._period_end(start, end)
        concept = self._concept(atc, preparat, styrke, atc_valid)
        rid = resource_id(self.kommunenr, source, str(lid))
        res = mapping.medication_statement(
            rid,
            identifier=mapping.legacy_identifier(legacy_system(self.kommunenr, "profil", "legemiddel"), str(lid)),
            patient_id=pid,
            status=status,
            medication=concept,
            start=start,
            end=end,
            dosage=dosering,
        )
        self.legemiddel[lid] = _Medication(pid, rid, concept)
        self._emit(res, pid, source)
        self._migrated(source)

    def _profil_administrering(self, source: str, record: int, row: list[str], shape_ok: bool) -> None:
        aid = parse_positive_id(row[0])
        reason: str | None = None
        lid = None
        planned = given = None
        status = hpr = ""
        if not shape_ok or aid is None:
            reason = MALFORMED_ROW
        else:
            _, lid_s, planlagt_s, gitt_s, hpr, status = row
            lid = parse_positive_id(lid_s)
            gitt_rule_broken = (status in ("GITT", "SELVADM") and not gitt_s) or (status == "IKKE_GITT" and gitt_s)
            if lid is None or (hpr and parse_int(hpr) is None) or gitt_rule_broken:
                reason = MALFORMED_ROW
            else:
                planned = parse_no_timestamp(planlagt_s) if planlagt_s else None
                given = parse_no_timestamp(gitt_s) if gitt_s else None
                if planned is None or (gitt_s and given is None):
                    reason = INVALID_DATE
        if self._seen_before(source, aid) and reason is None:
            reason = DUPLICATE_ID
        med = None
        if reason is None:
            assert lid is not None
            if lid not in self.legemiddel:
                reason = UNKNOWN_PARENT
            else:
                med = self.legemiddel[lid]
                if med is None:
                    reason = PARENT_QUARANTINED
        if reason is None and status not in ADM_STATUS:
            reason = UNKNOWN_CODE
        if reason is not None:
            self.tally.quarantined(
                source, reason, record=record, key=str(aid) if aid else "", **_why_profil(source, reason, row)
            )
            return
        assert aid is not None and med is not None and planned is not None
        rid = resource_id(self.kommunenr, source, str(aid))
        res = mapping.medication_administration(
            rid,
            identifier=mapping.legacy_identifier(legacy_system(self.kommunenr, "profil", "administrering"), str(aid)),
            patient_id=med.patient_id,
            statement_id=med.statement_id,
            medication=med.concept,
            status=ADM_STATUS[status],
            planned=planned,
            given=given,
            given_by_hpr=hpr,
            self_administered=status == "SELVADM",
        )
        self._emit(res, med.patient_id, source)
        self._migrated(source)

    def _iplos_key(self, bid: int | None, date: dt.date | None, variabel: str) -> int | None:
        """(BrukerID, Dato, Variabel) as one integer for DUPLICATE_ID on IPLOS (one int per seen row, not a tuple).

        None when BrukerID or Dato does not parse: such a row is already MALFORMED_ROW or INVALID_DATE, and
        no later row can repeat a key that has no value.
        """
        if bid is None or date is None:
            return None
        idx = self._iplos_vars.setdefault(variabel, len(self._iplos_vars))
        return (bid * 4_000_000 + date.toordinal()) * 1_000_000 + idx  # ordinals < 4e6; variables < 1e6

    def _profil_iplos(self, source: str, record: int, row: list[str], shape_ok: bool) -> None:
        reason: str | None = None
        bid = date = skaar = None
        variabel = ""
        if not shape_ok:
            reason = MALFORMED_ROW
        else:
            bid_s, dato_s, variabel, skaar_s = row
            bid = parse_positive_id(bid_s)
            skaar = parse_int(skaar_s)
            if bid is None or skaar is None:
                reason = MALFORMED_ROW
            else:
                date = parse_no_date(dato_s) if dato_s else None
                if date is None:
                    reason = INVALID_DATE
        duplicate = self._seen_before(source, self._iplos_key(bid, date, variabel))
        if reason is None and duplicate:
            reason = DUPLICATE_ID
        pid = None
        if reason is None:
            assert bid is not None
            pid, reason = self._parent(bid)
        if reason is None and (variabel not in IPLOS_VARIABLER or skaar not in IPLOS_SKAAR):
            reason = UNKNOWN_CODE
        key = "|".join(_key(f) for f in row[:3])
        if reason is not None:
            self.tally.quarantined(
                source, reason, record=record, key=key if shape_ok else "", **_why_profil(source, reason, row)
            )
            return
        assert pid is not None and date is not None and skaar is not None
        rid = resource_id(self.kommunenr, source, key)
        res = mapping.iplos_observation(rid, patient_id=pid, variabel=variabel, date=date, skaar=skaar)
        self._emit(res, pid, source)
        self._migrated(source)

    def _profil_parorende(self, source: str, record: int, row: list[str], shape_ok: bool) -> None:
        prid = parse_positive_id(row[0])
        reason: str | None = None
        bid = prioritet = None
        navn = relasjon = tlf = ""
        if not shape_ok or prid is None:
            reason = MALFORMED_ROW
        else:
            _, bid_s, navn, relasjon, tlf, prio_s = row
            bid = parse_positive_id(bid_s)
            prioritet = parse_int(prio_s) if prio_s else None
            if bid is None or (prio_s and prioritet is None):
                reason = MALFORMED_ROW
        if self._seen_before(source, prid) and reason is None:
            reason = DUPLICATE_ID
        pid = None
        if reason is None:
            assert bid is not None
            pid, reason = self._parent(bid)
        if reason is None and relasjon not in RELASJON_PROFIL:
            reason = UNKNOWN_CODE
        if reason is not None:
            self.tally.quarantined(
                source, reason, record=record, key=str(prid) if prid else "", **_why_profil(source, reason, row)
            )
            return
        assert prid is not None and pid is not None
        rid = resource_id(self.kommunenr, source, str(prid))
        res = mapping.related_person(
            rid,
            identifiers=[mapping.legacy_identifier(legacy_system(self.kommunenr, "profil", "parorende"), str(prid))],
            patient_id=pid,
            relation=RELASJON_PROFIL[relasjon],
            relation_code=relasjon,
            name=navn,
            phone=tlf,
            priority=prioritet,
        )
        self._emit(res, pid, source)
        self._migrated(source)

    # ---------------------------------------------------------------- CGM
    def barn(self, record: int, elem: ET.Element) -> None:
        """Decide one `<Barn>` element and every child element inside it."""
        source = cgm_source("Barn")
        self.tally.source(source).read += 1
        hid = elem.get("id") or None
        reason: str | None = None if hid else MALFORMED_ROW
        fnr = (elem.findtext("Fodselsnummer") or "").strip()
        fdato_s = (elem.findtext("Fodselsdato") or "").strip()
        fornavn = (elem.findtext("Fornavn") or "").strip()
        etternavn = (elem.findtext("Etternavn") or "").strip()
        kjonn = (elem.findtext("Kjonn") or "U").strip()
        fdato = parse_iso_date(fdato_s) if fdato_s else None
        if reason is None and fdato_s and fdato is None:
            reason = INVALID_DATE
        if self._seen_text_before(source, hid) and reason is None:
            reason = DUPLICATE_ID
        if reason is None and kjonn not in KJONN:
            reason = UNKNOWN_CODE
        nid = self._national_id(fnr) if reason is None else None
        if reason is None and nid is None and fdato is None:
            reason = PATIENT_UNIDENTIFIABLE
        pid: str | None = None
        if reason is not None:
            self.tally.quarantined(source, reason, record=record, key=_key(hid), **_why_cgm(elem, reason))
        else:
            assert hid is not None
            self._identity_warnings(fnr, nid)
            legacy = mapping.legacy_identifier(legacy_system(self.kommunenr, "cgm", "barn"), hid)

            def build(rid: str, identifiers: list[dict[str, str]]) -> Resource:
                return mapping.patient(
                    rid,
                    identifiers=identifiers,
                    family=etternavn,
                    given=fornavn,
                    gender_code=kjonn,
                    birth_date=nid.birth_date if nid else fdato,
                )

            pid = self._register_patient(
                nid=nid,
                legacy=legacy,
                source=source,
                legacy_key=hid,
                given=fornavn,
                family=etternavn,
                source_birth=fdato,
                build=build,
            )
            self._migrated(source)
        ordinal = 0
        for child in elem:
            tag = child.tag
            if tag == "Foresatt":
                ordinal += 1
                self._foresatt(child, pid, f"{_key(hid)}/{ordinal}")
            elif tag == "Konsultasjon":
                self._konsultasjon(child, pid)
            elif tag == "Maaling":
                self._maaling(child, pid)
            elif tag == "Vaksinasjon":
                self._vaksinasjon(child, pid)

    def _cgm_read(self, element: str) -> tuple[str, int]:
        source = cgm_source(element)
        tally = self.tally.source(source)
        tally.read += 1
        return source, tally.read

    def _foresatt(self, elem: ET.Element, pid: str | None, key: str) -> None:
        source, record = self._cgm_read("Foresatt")
        fnr = elem.get("fnr") or ""
        relasjon = elem.get("relasjon") or ""
        reason: str | None = None
        if not fnr or not relasjon:
            reason = MALFORMED_ROW
        elif pid is None:
            reason = PARENT_QUARANTINED
        elif relasjon not in RELASJON_CGM:
            reason = UNKNOWN_CODE
        if reason is not None:
            self.tally.quarantined(source, reason, record=record, key=key, **_why_cgm(elem, reason))
            return
        assert pid is not None
        nid = self._national_id(fnr)
        identifiers = [{"use": "official", "system": nid.system, "value": nid.value}] if nid else []
        rid = resource_id(self.kommunenr, source, key)
        res = mapping.related_person(
            rid,
            identifiers=identifiers,
            patient_id=pid,
            relation=RELASJON_CGM[relasjon],
            relation_code=relasjon,
            name=(elem.text or "").strip(),
        )
        self._emit(res, pid, source)
        self._migrated(source)

    def _konsultasjon(self, elem: ET.Element, pid: str | None) -> None:
        source, record = self._cgm_read("Konsultasjon")
        kid, dato_s, ktype = elem.get("id"), elem.get("dato"), elem.get("type")
        reason: str | None = None
        date = None
        if not kid or not dato_s or not ktype:
            reason = MALFORMED_ROW
        else:
            date = parse_iso_date(dato_s)
            if date is None:
                reason = INVALID_DATE
        if self._seen_text_before(source, kid) and reason is None:
            reason = DUPLICATE_ID
        if reason is None and pid is None:
            reason = PARENT_QUARANTINED
        if reason is not None:
            self.tally.quarantined(source, reason, record=record, key=_key(kid), **_why_cgm(elem, reason))
            return
        assert kid is not None and ktype is not None and date is not None and pid is not None
        rid = resource_id(self.kommunenr, source, kid)
        res = mapping.encounter(
            rid,
            identifier=mapping.legacy_identifier(legacy_system(self.kommunenr, "cgm", "konsultasjon"), kid),
            patient_id=pid,
            konsultasjonstype=ktype,
            date=date,
            text=(elem.text or "").strip(),
        )
        self._emit(res, pid, source)
        self._migrated(source)

    def _maaling(self, elem: ET.Element, pid: str | None) -> None:
        source, record = self._cgm_read("Maaling")
        mid, dato_s, mtype = elem.get("id"), elem.get("dato"), elem.get("type")
        verdi_s, enhet = elem.get("verdi"), elem.get("enhet")
        reason: str | None = None
        date = value = None
        if not mid or not dato_s or not mtype or not verdi_s or not enhet:
            reason = MALFORMED_ROW
        else:
            value = parse_decimal(verdi_s)
            if value is None or (mtype in MAALING and MAALING[mtype][2] != enhet):
                reason = MALFORMED_ROW
            else:
                date = parse_iso_date(dato_s)
                if date is None:
                    reason = INVALID_DATE
        if self._seen_text_before(source, mid) and reason is None:
            reason = DUPLICATE_ID
        if reason is None and pid is None:
            reason = PARENT_QUARANTINED
        if reason is None and mtype not in MAALING:
            reason = UNKNOWN_CODE
        if reason is not None:
            self.tally.quarantined(source, reason, record=record, key=_key(mid), **_why_cgm(elem, reason))
            return
        assert mid is not None and mtype is not None and date is not None and pid is not None and value is not None
        rid = resource_id(self.kommunenr, source, mid)
        res = mapping.measurement_observation(
            rid,
            identifier=mapping.legacy_identifier(legacy_system(self.kommunenr, "cgm", "maaling"), mid),
            patient_id=pid,
            maaling_type=mtype,
            date=date,
            value=value,
        )
        self._emit(res, pid, source)
        self._migrated(source)

    def _vaksinasjon(self, elem: ET.Element, pid: str | None) -> None:
        source, record = self._cgm_read("Vaksinasjon")
        vid, dato_s, atc, dose_s = elem.get("id"), elem.get("dato"), elem.get("atc"), elem.get("dose")
        reason: str | None = None
        date = dose = None
        if not vid or not dato_s or not atc or not dose_s:
            reason = MALFORMED_ROW
        else:
            dose = parse_positive_id(dose_s)
            if dose is None:
                reason = MALFORMED_ROW
            else:
                date = parse_iso_date(dato_s)
                if date is None:
                    reason = INVALID_DATE
        if self._seen_text_before(source, vid) and reason is None:
            reason = DUPLICATE_ID
        if reason is None and pid is None:
            reason = PARENT_QUARANTINED
        if reason is not None:
            self.tally.quarantined(source, reason, record=record, key=_key(vid), **_why_cgm(elem, reason))
            return
        assert vid is not None and atc is not None and date is not None and pid is not None and dose is not None
        atc_valid = ATC_RE.fullmatch(atc) is not None
        if not atc_valid:
            self.tally.warnings[INVALID_ATC] += 1
        rid = resource_id(self.kommunenr, source, vid)
        res = mapping.immunization(
            rid,
            identifier=mapping.legacy_identifier(legacy_system(self.kommunenr, "cgm", "vaksinasjon"), vid),
            patient_id=pid,
            atc=atc,
            atc_valid=atc_valid,
            date=date,
            dose=dose,
            batch=elem.get("batch") or "",
        )
        self._emit(res, pid, source)
        self._migrated(source)

    # ---------------------------------------------------------------- end
    def finish(self) -> None:
        """Emit the held-back Patients (in first-seen order) and count CONFLICTING_DEMOGRAPHICS."""
        for pid, entry in self.patients.items():
            self._emit(entry.resource, pid, entry.source)
        self.tally.warnings[CONFLICTING_DEMOGRAPHICS] += len(self.conflicts)
        self.patients.clear()
