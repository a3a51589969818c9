"""The tenant model: one municipality (kommune) as the platform knows it.

Tenant = municipality = kommunenummer, everywhere: in file names, namespaces,
metric labels, CRDs and the CLI. This module is domain core and imports nothing
from Pulumi, kopf, PostgreSQL or the CLI.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

KOMMUNENR_PATTERN = r"^[0-9]{4}$"

# County number is the first two digits of the kommunenummer (2024 county structure).
COUNTIES: dict[str, str] = {"15": "Møre og Romsdal", "18": "Nordland", "50": "Trøndelag"}

Kommunenr = Annotated[str, StringConstraints(pattern=KOMMUNENR_PATTERN)]
RoleAddress = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._+-]*@[a-z0-9-]+(\.[a-z0-9-]+)+$", max_length=120)
]


class Role(StrEnum):
    """Contract role: principals (oppdragsgiver) signed the contract; options (opsjon) may join later."""

    principal = "principal"
    option = "option"


class LegacySystem(StrEnum):
    profil = "profil"
    cgm = "cgm"


class Environment(StrEnum):
    test = "test"
    prod = "prod"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeavingReason(StrEnum):
    """Why a municipality leaves the platform: it withdrew before its place locked, or it is decommissioned."""

    withdrawn = "withdrawn"
    decommissioned = "decommissioned"


#: Days the platform keeps a leaving tenant's database after its final export was received, before its
#: resources may be released: time to find a defect in the export while the source still exists.
MIN_DAYS_KEPT_AFTER_EXPORT = 90


class FinalExport(_Strict):
    """The final export handed to the municipality (or its archive): when, the receipt, the file's checksum."""

    on: dt.date
    receipt: str = Field(min_length=5, description="Reference to the municipality's written receipt of the export.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Checksum of the exported dump, as the receipt states.")


class Leaving(_Strict):
    """A municipality leaving the platform, in writing (issue 12): the platform keeps its data until
    the final export is received and the retention date has passed; only then may it be released.

    Stages, each a written edit of the tenant file reviewed in Git:
    decided (``reason``, ``decided_on``, ``decision``) → exported (``final_export``,
    ``retain_until``) → released (``released_on``: Pulumi stops managing the resources, which
    it never deletes; ``runbooks/process/tenant-leaving.md`` then deletes them explicitly).
    """

    reason: LeavingReason
    decided_on: dt.date
    decision: str = Field(min_length=5, description="Reference to the decision, e.g. 'Kommunestyret sak 045/26'.")
    final_export: FinalExport | None = None
    retain_until: dt.date | None = Field(
        default=None, description="The platform keeps the database at least until this date (after the export)."
    )
    released_on: dt.date | None = None

    @model_validator(mode="after")
    def _in_order(self) -> Leaving:
        if self.final_export is not None and self.final_export.on < self.decided_on:
            raise ValueError("final_export.on is before decided_on: export after the decision")
        if self.retain_until is not None:
            if self.final_export is None:
                raise ValueError("retain_until needs final_export: retention runs from the final export")
            earliest = self.final_export.on + dt.timedelta(days=MIN_DAYS_KEPT_AFTER_EXPORT)
            if self.retain_until < earliest:
                raise ValueError(
                    f"retain_until must be at least {MIN_DAYS_KEPT_AFTER_EXPORT} days after final_export.on "
                    f"(earliest {earliest.isoformat()})"
                )
        if self.released_on is not None:
            if self.final_export is None or self.retain_until is None:
                raise ValueError("released_on needs final_export and retain_until: export and retain first")
            if self.released_on < self.retain_until:
                raise ValueError(f"released_on is before retain_until ({self.retain_until.isoformat()})")
        return self

    @property
    def released(self) -> bool:
        """Whether the platform may stop managing this tenant's resources (never deletes them itself)."""
        return self.released_on is not None


class Population(_Strict):
    """Inhabitants with provenance, so cost splits and sizing can be traced to a published figure."""

    inhabitants: int = Field(gt=0, lt=2_000_000)
    source: str = Field(min_length=5)
    as_of: dt.date
    estimate: bool = Field(description="True when the figure is not copied exactly from the source.")
    note: str | None = None


class Contacts(_Strict):
    """Role addresses only: people change jobs, mailboxes stay. No personal names here."""

    it_operations: RoleAddress
    health_and_care: RoleAddress
    project: RoleAddress | None = None

    @field_validator("it_operations", "health_and_care", "project")
    @classmethod
    def _no_personal_mailbox(cls, value: str | None) -> str | None:
        if value is None:
            return value
        local = value.split("@", 1)[0]
        if re.fullmatch(r"[a-z]+\.[a-z]+", local) and not any(
            word in local for word in ("it", "helse", "omsorg", "post", "drift", "epj", "prosjekt", "service")
        ):
            raise ValueError("looks like a personal mailbox (first.last); use a role address")
        return value


class Tenant(_Strict):
    """One municipality. Field names are the YAML keys of ``tenants/<kommunenr>-<slug>.yaml``."""

    kommunenummer: Kommunenr
    name: str = Field(min_length=2)
    slug: str = Field(pattern=r"^[a-z][a-z0-9-]*$", description="ASCII name used in file and DNS names.")
    county: str
    role: Role
    option_called: bool = Field(
        description="Options only: whether the municipality has called its option. Principals are always in."
    )
    option_called_on: dt.date | None = None
    population: Population
    legacy_systems: tuple[LegacySystem, ...]
    services: tuple[str, ...] = Field(min_length=1)
    expected_end_users: int = Field(gt=0)
    contacts: Contacts
    environments: tuple[Environment, ...] = Field(min_length=1)
    cooperation: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9-]*$",
        description="Inter-municipal cooperation (shared IT or emergency service); such groups go live together.",
    )
    depends_on: tuple[Kommunenr, ...] = Field(
        default=(), description="Tenants that must be live first (e.g. the host of a shared service)."
    )
    leaving: Leaving | None = Field(
        default=None,
        description="Set when the municipality leaves the platform (withdrawal or decommissioning), in writing.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Tenant:
        county = COUNTIES.get(self.kommunenummer[:2])
        if county is None:
            raise ValueError(f"kommunenummer {self.kommunenummer} is not in this region's counties")
        if self.county != county:
            raise ValueError(f"county must be {county!r} for kommunenummer {self.kommunenummer}")
        if self.role is Role.principal and not self.option_called:
            raise ValueError("a principal is always in: option_called must be true")
        if self.option_called_on is not None and not self.option_called:
            raise ValueError("option_called_on is set but option_called is false")
        if len(set(self.services)) != len(self.services):
            raise ValueError("services lists a service twice")
        if self.kommunenummer in self.depends_on:
            raise ValueError("a tenant cannot depend on itself")
        return self

    @property
    def active(self) -> bool:
        """Whether the platform provisions this tenant at all (principals and called options)."""
        return self.role is Role.principal or self.option_called

    @property
    def namespace(self) -> str:
        """The tenant's Kubernetes namespace name, e.g. ``kommune-5035``."""
        return f"kommune-{self.kommunenummer}"

    @property
    def file_stem(self) -> str:
        return f"{self.kommunenummer}-{self.slug}"
