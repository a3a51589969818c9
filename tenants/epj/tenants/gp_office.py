"""GP offices (legekontor / fastlegekontor): private actors that go live before or with their municipality.

A GP office keeps its own record system; "going live" for it means exchanging e-messages
(PLO: referrals, discharge letters, medication lists) with the municipality's new EPJ. The
seeds make GP offices connected before or with their municipality a condition of the whole
project's gains, so a GP office is a tenant of its own kind: its own file under
``tenants/gp-offices/``, linked to its municipality, carried into the RolloutWave of that
municipality and checked by the operator's ``dependencies-live`` gate before the
municipality's cutover. It gets no namespace unless it runs something on the platform.

Domain core: imports nothing of Pulumi, kopf, PostgreSQL or the CLI.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from epj.tenants.model import Contacts, Kommunenr

#: A GP office id: its municipality's kommunenummer and a slug, e.g. ``5035-sentrum-legekontor``.
GP_OFFICE_ID_PATTERN = r"^[0-9]{4}-[a-z0-9][a-z0-9-]*$"


class GpOffice(BaseModel):
    """One GP office. Field names are the YAML keys of ``tenants/gp-offices/<id>.yaml``.

    No personal names: the office's name and role addresses only (GPs change, offices stay).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["gp-office"] = "gp-office"
    id: str = Field(pattern=GP_OFFICE_ID_PATTERN, description="Kommunenummer of its municipality + slug.")
    name: str = Field(min_length=2, description="The office's name as registered (not a person's name).")
    municipality: Kommunenr = Field(description="The municipality whose cutover waits for this office.")
    general_practitioners: int = Field(gt=0, le=100, description="Regular GPs (fastleger) at the office.")
    listed_patients: int = Field(gt=0, lt=200_000, description="Patients on the GPs' lists (for the cost split).")
    integration: tuple[Literal["e-messaging"], ...] = Field(
        default=("e-messaging",), min_length=1, description="What connects it to the EPJ (PLO e-messages)."
    )
    needs_namespace: bool = Field(
        default=False,
        description="True only if the office runs something of its own on the platform; otherwise it gets nothing "
        "provisioned and is a go-live dependency and a cost line.",
    )
    contacts: Contacts
    note: str | None = None

    @model_validator(mode="after")
    def _linked(self) -> GpOffice:
        if not self.id.startswith(f"{self.municipality}-"):
            raise ValueError(f"id must start with its municipality's kommunenummer: {self.municipality}-…")
        return self

    @property
    def file_stem(self) -> str:
        return self.id
