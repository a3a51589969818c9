"""The cost model file: unit prices, licences, shared costs and how they are split.

Money is ``Decimal`` throughout and rounded to øre only where a figure is shown or
split, so that the sum of the tenants' shares equals the platform total exactly.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from epj.paths import repo_root


class SplitMethod(StrEnum):
    """How shared platform costs are divided between provisioned tenants."""

    population = "population"
    end_users = "end_users"
    measured_usage = "measured_usage"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitPrices(_Strict):
    cpu_core_month: Decimal = Field(ge=0)
    memory_gib_month: Decimal = Field(ge=0)
    storage_gib_month: Decimal = Field(ge=0)
    backup_gib_month: Decimal = Field(ge=0)


class Licence(_Strict):
    name: str
    basis: Literal["per_end_user", "per_inhabitant"]
    nok_per_month: Decimal | None = Field(default=None, ge=0)
    nok_per_year: Decimal | None = Field(default=None, ge=0)

    def monthly(self) -> Decimal:
        """Monthly price per unit; a yearly price is spread evenly over twelve months."""
        if self.nok_per_month is not None:
            return self.nok_per_month
        if self.nok_per_year is not None:
            return self.nok_per_year / 12
        raise ValueError(f"licence {self.name!r} needs nok_per_month or nok_per_year")


class SharedItem(_Strict):
    name: str
    nok_per_month: Decimal = Field(ge=0)


class Shared(_Strict):
    split: SplitMethod
    items: tuple[SharedItem, ...]

    def monthly_total(self) -> Decimal:
        return sum((item.nok_per_month for item in self.items), Decimal(0))


class OneTime(_Strict):
    onboarding_per_tenant: Decimal = Field(ge=0)
    migration_per_inhabitant: Decimal = Field(ge=0)
    training_per_end_user: Decimal = Field(ge=0)


class PrivateActors(_Strict):
    """What a GP office (a private actor) pays for its connection to the EPJ: billed to the office.

    The regional council asked for a cost model that shows the private actors' part; it is not in
    the municipalities' shared split and not in their bills.
    """

    gp_office_item: str = "E-messaging connection (PLO), health-network address and support"
    gp_office_nok_per_month: Decimal = Field(ge=0)
    per_gp_nok_per_month: Decimal = Field(default=Decimal(0), ge=0)


class CostModel(_Strict):
    version: str
    valid_from: dt.date
    currency: Literal["NOK"]
    unit_prices: UnitPrices
    backup_factor: Decimal = Field(ge=0)
    licences: tuple[Licence, ...]
    shared: Shared
    one_time: OneTime
    private_actors: PrivateActors | None = None
    budgets: dict[str, Decimal] = Field(default_factory=dict)


def default_cost_model_path() -> Path:
    root = repo_root()
    if root is not None:
        return root / "monitoring" / "cost-model.yaml"
    return Path(__file__).resolve().parents[1] / "_data" / "cost-model.yaml"


def load_cost_model(path: Path | None = None) -> CostModel:
    """Read and validate the cost model (default: monitoring/cost-model.yaml)."""
    source = path or default_cost_model_path()
    with source.open(encoding="utf-8") as fh:
        return CostModel.model_validate(yaml.safe_load(fh))
