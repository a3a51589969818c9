"""Fixtures for the infra tests: the `test` stack run once under Pulumi mocks per worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from epj.infra.render import Registration, group_by_file, objects_from, run_program, write_rendered
from epj.tenants import TenantSet, load_tenants

# An option that is not called in the tenant files (Flatanger); the option tests call it.
UNCALLED_OPTION = "5049"


@pytest.fixture(scope="session")
def tenant_set() -> TenantSet:
    return load_tenants()


@pytest.fixture(scope="session")
def test_registrations(tenant_set: TenantSet) -> list[Registration]:
    return run_program("test", tenant_set)


@pytest.fixture(scope="session")
def test_objects(test_registrations: list[Registration]) -> list[dict[str, Any]]:
    return objects_from(test_registrations)


@pytest.fixture(scope="session")
def rendered_dir(
    test_objects: list[dict[str, Any]], tenant_set: TenantSet, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("rendered")
    files = group_by_file(test_objects, (t.namespace for t in tenant_set.active("test")))
    write_rendered(files, out)
    return out
