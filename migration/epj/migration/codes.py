"""Code lists and identifier systems of the legacy-extract contract (SPEC §2–§4), in one place.

Why a module of constants: the quarantine rules (`UNKNOWN_CODE`) and the FHIR mapping must agree on
exactly the same lists, and a reviewer should be able to check them against the SPEC side by side.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

# --- identifier systems (SPEC §4) -------------------------------------------------------------
FNR_SYSTEM: Final = "urn:oid:2.16.578.1.12.4.1.4.1"
DNR_SYSTEM: Final = "urn:oid:2.16.578.1.12.4.1.4.2"
HPR_SYSTEM: Final = "urn:oid:2.16.578.1.12.4.1.4.4"
ATC_SYSTEM: Final = "http://www.whocc.no/atc"
LOINC_SYSTEM: Final = "http://loinc.org"
UCUM_SYSTEM: Final = "http://unitsofmeasure.org"
ROLE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
ACT_CODE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
# Local code systems for the legacy codes (kept verbatim so nothing is lost in translation).
TJENESTE_SYSTEM: Final = "urn:epj:codesystem:profil:tjeneste"
NOTATTYPE_SYSTEM: Final = "urn:epj:codesystem:profil:notattype"
IPLOS_SYSTEM: Final = "urn:epj:codesystem:iplos:funksjonsvariabel"
RELASJON_SYSTEM: Final = "urn:epj:codesystem:legacy:relasjon"
KONSULTASJON_SYSTEM: Final = "urn:epj:codesystem:cgm:konsultasjonstype"
EXT_TIMER_PR_UKE: Final = "urn:epj:extension:timer-pr-uke"
EXT_PRIORITET: Final = "urn:epj:extension:kontaktprioritet"
EXT_PLANLAGT: Final = "urn:epj:extension:planlagt-tidspunkt"


@lru_cache(maxsize=256)
def legacy_system(kommunenr: str, system: str, table: str) -> str:
    """`urn:legacy:<system>:<kommunenr>:<table>` — where a legacy key came from (SPEC §4)."""
    return f"urn:legacy:{system}:{kommunenr}:{table}"


# --- Profil code lists (SPEC §2) ----------------------------------------------------------------
KJONN: Final = {"M": "male", "K": "female", "U": "unknown"}
BRUKER_STATUS: Final = frozenset({"AKTIV", "AVSLUTTET", "DOD"})
TJENESTE: Final = {
    "HJSPL": "Hjemmesykepleie",
    "PRAKT": "Praktisk bistand",
    "KORT": "Korttidsopphold",
    "LANG": "Langtidsopphold",
    "AVLAST": "Avlastning",
    "DAG": "Dagaktivitet",
    "TRYGG": "Trygghetsalarm",
    "BPA": "Brukerstyrt personlig assistanse",
    "MAT": "Matombringing",
}
VEDTAK_STATUS: Final = {"AKTIV": "active", "AVSLUTTET": "finished", "AVSLAG": "cancelled"}
NOTATTYPE: Final = frozenset({"RAPPORT", "JOURNAL", "SAMTALE", "AVVIK"})
SEPONERT: Final = frozenset({"J", "N"})
ADM_STATUS: Final = {"GITT": "completed", "IKKE_GITT": "not-done", "SELVADM": "completed"}
IPLOS_SKAAR: Final = frozenset({1, 2, 3, 4, 5, 9})
# codes/iplos-variabler.txt (a test checks this list against the shared file).
IPLOS_VARIABLER: Final = {
    "SOSIAL_DELTAKELSE": "Sosial deltakelse",
    "STYRE_ATFERD": "Styre atferd",
    "IVARETA_HELSE": "Ivareta egen helse",
    "HUSARBEID": "Alminnelig husarbeid",
    "VARER_TJENESTER": "Skaffe seg varer og tjenester",
    "LAGE_MAT": "Lage mat",
    "PERSONLIG_HYGIENE": "Personlig hygiene",
    "KLE_SEG": "Kle av og på seg",
    "SPISE": "Spise",
    "TOALETT": "Toalett",
    "BEVEGE_INNE": "Bevege seg innendørs",
    "BEVEGE_UTE": "Bevege seg utendørs",
    "HUKOMMELSE": "Hukommelse",
    "BESLUTNINGER": "Beslutninger i dagliglivet",
    "KOMMUNIKASJON": "Kommunikasjon",
    "SYN": "Syn",
    "HORSEL": "Hørsel",
}
# Relationship codes → (v3 RoleCode, display).  ANNEN has no precise role: ONESELF is wrong, so "O"-less: text only.
RELASJON_PROFIL: Final = {
    "EKTEFELLE": ("SPS", "spouse"),
    "BARN": ("CHILD", "child"),
    "FORELDER": ("PRN", "parent"),
    "SOSKEN": ("SIB", "sibling"),
    "ANNEN": (None, "annen"),
}
RELASJON_CGM: Final = {"MOR": ("MTH", "mother"), "FAR": ("FTH", "father"), "ANNEN": (None, "annen")}

ATC_RE: Final = re.compile(r"[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}")

# --- CGM (SPEC §3) ------------------------------------------------------------------------------
# Maaling type → (LOINC code, LOINC display, the one unit allowed)
MAALING: Final = {
    "VEKT": ("29463-7", "Body weight", "kg"),
    "LENGDE": ("8302-2", "Body height", "cm"),
    "HODEOMKRETS": ("9843-4", "Head Occipital-frontal circumference", "cm"),
}

# --- quarantine reasons and warnings (SPEC §5), in decision order -------------------------------
MALFORMED_ROW: Final = "MALFORMED_ROW"
INVALID_DATE: Final = "INVALID_DATE"
DUPLICATE_ID: Final = "DUPLICATE_ID"
UNKNOWN_PARENT: Final = "UNKNOWN_PARENT"
PARENT_QUARANTINED: Final = "PARENT_QUARANTINED"
UNKNOWN_CODE: Final = "UNKNOWN_CODE"
PATIENT_UNIDENTIFIABLE: Final = "PATIENT_UNIDENTIFIABLE"
REASONS: Final = (
    MALFORMED_ROW,
    INVALID_DATE,
    DUPLICATE_ID,
    UNKNOWN_PARENT,
    PARENT_QUARANTINED,
    UNKNOWN_CODE,
    PATIENT_UNIDENTIFIABLE,
)
MISSING_NATIONAL_ID: Final = "MISSING_NATIONAL_ID"
INVALID_NATIONAL_ID: Final = "INVALID_NATIONAL_ID"
INVALID_ATC: Final = "INVALID_ATC"
CONFLICTING_DEMOGRAPHICS: Final = "CONFLICTING_DEMOGRAPHICS"
PERIOD_END_BEFORE_START: Final = "PERIOD_END_BEFORE_START"
WARNINGS: Final = (
    MISSING_NATIONAL_ID,
    INVALID_NATIONAL_ID,
    INVALID_ATC,
    CONFLICTING_DEMOGRAPHICS,
    PERIOD_END_BEFORE_START,
)

# --- sources (SPEC §6 keys) ---------------------------------------------------------------------
PROFIL_FILES: Final = ("BRUKER", "VEDTAK", "JOURNAL", "LEGEMIDDEL", "ADMINISTRERING", "IPLOS", "PARORENDE")
PROFIL_COLUMNS: Final = {
    "BRUKER": (
        "BrukerID",
        "Fodselsnummer",
        "Etternavn",
        "Fornavn",
        "Fodselsdato",
        "Kjonn",
        "Adresse",
        "Postnr",
        "Poststed",
        "Telefon",
        "Dodsdato",
        "Status",
    ),
    "VEDTAK": ("VedtakID", "BrukerID", "Tjeneste", "FraDato", "TilDato", "TimerPrUke", "Status"),
    "JOURNAL": ("NotatID", "BrukerID", "Tidspunkt", "Notattype", "ForfatterHPR", "ForfatterNavn", "Tekst"),
    "LEGEMIDDEL": (
        "LegemiddelID",
        "BrukerID",
        "ATC",
        "Preparat",
        "Styrke",
        "Dosering",
        "FraDato",
        "TilDato",
        "Seponert",
    ),
    "ADMINISTRERING": ("AdmID", "LegemiddelID", "Planlagt", "Gitt", "GittAvHPR", "Status"),
    "IPLOS": ("BrukerID", "Dato", "Variabel", "Skaar"),
    "PARORENDE": ("ParorendeID", "BrukerID", "Navn", "Relasjon", "Telefon", "Prioritet"),
}
CGM_ELEMENTS: Final = ("Barn", "Foresatt", "Konsultasjon", "Maaling", "Vaksinasjon")
RESOURCE_TYPES: Final = (
    "Patient",
    "EpisodeOfCare",
    "DocumentReference",
    "MedicationStatement",
    "MedicationAdministration",
    "Observation",
    "RelatedPerson",
    "Encounter",
    "Immunization",
)


def profil_source(name: str) -> str:
    """Reconciliation key of a Profil file: `profil/BRUKER.csv`."""
    return f"profil/{name}.csv"


def cgm_source(element: str) -> str:
    """Reconciliation key of a CGM element type: `cgm/Barn`."""
    return f"cgm/{element}"


ALL_SOURCES: Final = tuple(profil_source(n) for n in PROFIL_FILES) + tuple(cgm_source(e) for e in CGM_ELEMENTS)
