"""Every mapping rule produces valid FHIR (fhir.resources R4B models) for hypothesis-generated inputs,
and the whole sample's output validates too (PERFORMANCE-NOTES: validity is proven here, not in the
hot path; `--validate-fhir` re-checks a run when wanted)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epj.migration import mapping
from epj.migration.codes import (
    ADM_STATUS,
    IPLOS_VARIABLER,
    KJONN,
    MAALING,
    NOTATTYPE,
    RELASJON_CGM,
    RELASJON_PROFIL,
    TJENESTE,
    VEDTAK_STATUS,
)
from epj.migration.identity import resource_id
from epj.migration.pipeline import run_migration
from epj.migration.synthetic_ids import check_digits
from epj.migration.values import local_to_aware

# A synthetic (month + 80) fødselsnummer with valid check digits; the mapping does not re-check it.
SYNTHETIC_FNR = "158665005" + (check_digits("158665005") or "")

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.integers(min_value=1, max_value=10**12).map(lambda n: resource_id("5035", "test", str(n)))
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
words = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
dates = st.dates(min_value=dt.date(1880, 1, 1), max_value=dt.date(2030, 12, 31))
stamps = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2030, 1, 1)).map(
    lambda d: local_to_aware(d.replace(second=0, microsecond=0)).isoformat()
)
hpr = st.one_of(st.just(""), st.integers(min_value=1, max_value=99999999).map(str))
legacy = st.integers(min_value=1, max_value=10**9).map(
    lambda n: mapping.legacy_identifier("urn:legacy:profil:5035:x", str(n))
)


def validate(resource: dict[str, Any]) -> None:
    rtype = resource["resourceType"]
    model = getattr(importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}"), rtype)
    model.model_validate(resource)


@SETTINGS
@given(
    ids,
    words,
    words,
    st.sampled_from(sorted(KJONN)),
    st.none() | dates,
    words,
    words,
    words,
    words,
    st.none() | dates,
    st.booleans(),
    st.booleans(),
)
def test_patient(
    rid: str,
    family: str,
    given_: str,
    gender: str,
    birth: dt.date | None,
    address: str,
    postnr: str,
    city: str,
    phone: str,
    deceased: dt.date | None,
    active: bool,
    with_nid: bool,
) -> None:
    identifiers = [{"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": SYNTHETIC_FNR}]
    identifiers = identifiers if with_nid else []
    identifiers.append(mapping.legacy_identifier("urn:legacy:profil:5035:bruker", "1"))
    res = mapping.patient(
        rid,
        identifiers=identifiers,
        family=family,
        given=given_,
        gender_code=gender,
        birth_date=birth,
        address=address,
        postal_code=postnr,
        city=city,
        phone=phone,
        deceased=deceased,
        active=active,
    )
    validate(res)


@SETTINGS
@given(
    ids,
    legacy,
    ids,
    st.sampled_from(sorted(TJENESTE)),
    st.sampled_from(sorted(VEDTAK_STATUS)),
    dates,
    st.none() | dates,
    st.none() | st.floats(0, 168),
)
def test_episode_of_care(
    rid: str, ident: Any, pid: str, tj: str, status: str, start: dt.date, end: dt.date | None, timer: float | None
) -> None:
    validate(
        mapping.episode_of_care(
            rid, identifier=ident, patient_id=pid, tjeneste=tj, status=status, start=start, end=end, timer_pr_uke=timer
        )
    )


@SETTINGS
@given(ids, legacy, ids, st.sampled_from(sorted(NOTATTYPE)), stamps, hpr, words, text)
def test_document_reference(
    rid: str, ident: Any, pid: str, kind: str, stamp: str, author: str, name: str, note: str
) -> None:
    validate(
        mapping.document_reference(
            rid,
            identifier=ident,
            patient_id=pid,
            notattype=kind,
            timestamp=stamp,
            author_hpr=author,
            author_name=name,
            text=note,
        )
    )


atc_inputs = st.one_of(st.just("N02BE01"), st.just("J07BH01"), words)


@SETTINGS
@given(
    ids,
    legacy,
    ids,
    st.sampled_from(["active", "completed", "stopped"]),
    atc_inputs,
    words,
    words,
    dates,
    st.none() | dates,
    words,
)
def test_medication_statement(
    rid: str,
    ident: Any,
    pid: str,
    status: str,
    atc: str,
    prep: str,
    styrke: str,
    start: dt.date,
    end: dt.date | None,
    dosage: str,
) -> None:
    concept = mapping.medication_concept(atc, atc in ("N02BE01", "J07BH01"), prep, styrke)
    validate(
        mapping.medication_statement(
            rid,
            identifier=ident,
            patient_id=pid,
            status=status,
            medication=concept,
            start=start,
            end=end,
            dosage=dosage,
        )
    )


@SETTINGS
@given(ids, legacy, ids, ids, atc_inputs, words, st.sampled_from(sorted(ADM_STATUS)), stamps, st.none() | stamps, hpr)
def test_medication_administration(
    rid: str,
    ident: Any,
    pid: str,
    sid: str,
    atc: str,
    prep: str,
    status: str,
    planned: str,
    given_at: str | None,
    by: str,
) -> None:
    concept = mapping.medication_concept(atc, atc == "N02BE01", prep, "")
    validate(
        mapping.medication_administration(
            rid,
            identifier=ident,
            patient_id=pid,
            statement_id=sid,
            medication=concept,
            status=ADM_STATUS[status],
            planned=planned,
            given=given_at,
            given_by_hpr=by,
            self_administered=status == "SELVADM",
        )
    )


@SETTINGS
@given(ids, ids, st.sampled_from(sorted(IPLOS_VARIABLER)), dates, st.sampled_from([1, 2, 3, 4, 5, 9]))
def test_iplos_observation(rid: str, pid: str, var: str, date: dt.date, score: int) -> None:
    validate(mapping.iplos_observation(rid, patient_id=pid, variabel=var, date=date, skaar=score))


@SETTINGS
@given(ids, legacy, ids, st.sampled_from(sorted(MAALING)), dates, st.floats(0, 500, allow_nan=False))
def test_measurement_observation(rid: str, ident: Any, pid: str, kind: str, date: dt.date, value: float) -> None:
    validate(
        mapping.measurement_observation(
            rid, identifier=ident, patient_id=pid, maaling_type=kind, date=date, value=value
        )
    )


@SETTINGS
@given(
    ids,
    ids,
    st.sampled_from(sorted(RELASJON_PROFIL.items()) + sorted(RELASJON_CGM.items())),
    words,
    words,
    st.none() | st.integers(1, 9),
    st.booleans(),
)
def test_related_person(
    rid: str, pid: str, rel: tuple[str, Any], name: str, phone: str, prio: int | None, with_nid: bool
) -> None:
    identifiers = [{"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": SYNTHETIC_FNR}]
    validate(
        mapping.related_person(
            rid,
            identifiers=identifiers if with_nid else [],
            patient_id=pid,
            relation=rel[1],
            relation_code=rel[0],
            name=name,
            phone=phone,
            priority=prio,
        )
    )


@SETTINGS
@given(ids, legacy, ids, st.one_of(st.just("6U"), words.filter(bool)), dates, text)
def test_encounter(rid: str, ident: Any, pid: str, kind: str, date: dt.date, note: str) -> None:
    note = "".join(c for c in note if c.isprintable() or c in "\n\t")  # what an XML text node can hold
    validate(mapping.encounter(rid, identifier=ident, patient_id=pid, konsultasjonstype=kind, date=date, text=note))


@SETTINGS
@given(ids, legacy, ids, atc_inputs.filter(bool), dates, st.integers(1, 9), words)
def test_immunization(rid: str, ident: Any, pid: str, atc: str, date: dt.date, dose: int, batch: str) -> None:
    validate(
        mapping.immunization(
            rid,
            identifier=ident,
            patient_id=pid,
            atc=atc,
            atc_valid=atc == "J07BH01",
            date=date,
            dose=dose,
            batch=batch,
        )
    )


def test_whole_sample_output_validates_and_references_resolve(
    reference_extract: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    sample_extract = reference_extract[0]
    out = tmp_path / "out"
    run_migration(sample_extract, f"ndjson:{out}", synthetic_ids=True, report_dir=tmp_path / "r")
    resources = [json.loads(line) for path in out.iterdir() for line in path.read_text().splitlines()]
    known = {f"{r['resourceType']}/{r['id']}" for r in resources}
    for res in resources:
        validate(res)
        for key in ("subject", "patient"):
            if key in res:
                assert res[key]["reference"] in known


def test_validate_fhir_option(reference_extract: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    sample_extract, expected_sample = reference_extract
    report = run_migration(
        sample_extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path, validate_fhir=True
    )
    assert report == expected_sample
