"""Shared pieces for the report tests: a small cost model with round numbers."""

from __future__ import annotations

from epj.report.model import CostModel


def make_model(split: str = "population") -> CostModel:
    return CostModel.model_validate(
        {
            "version": "test-1",
            "valid_from": "2026-01-01",
            "currency": "NOK",
            "unit_prices": {
                "cpu_core_month": "100",
                "memory_gib_month": "10",
                "storage_gib_month": "1",
                "backup_gib_month": "0.5",
            },
            "backup_factor": "2",
            "licences": [
                {"name": "seat", "basis": "per_end_user", "nok_per_month": "100"},
                {"name": "inhabitant", "basis": "per_inhabitant", "nok_per_year": "12"},
            ],
            "shared": {"split": split, "items": [{"name": "cluster", "nok_per_month": "900"}]},
            "one_time": {
                "onboarding_per_tenant": "1000",
                "migration_per_inhabitant": "2",
                "training_per_end_user": "50",
            },
        }
    )
