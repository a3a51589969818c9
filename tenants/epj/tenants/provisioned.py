"""The record of what each environment has provisioned, and the rules that keep a tenant's data.

Why a committed file (``tenants/provisioned/<env>.yaml``) and not the stack's outputs:
``epj tenants validate`` runs in CI and on a laptop without access to the Pulumi state
backend, and a tenant must be refused *before* anyone runs ``pulumi up``. A file in Git is
readable by both the validator and the program, its every change is a reviewed diff (a
removed line is visible, and is itself refused unless the tenant's file records its
release), and it survives a lost or re-created stack. The program additionally exports
the list it provisions (stack output ``provisioned``) for auditors.

Rules (issue 12, "infrastructure keeps data unless told otherwise, in writing"):

- A recorded tenant stays provisioned, whatever its file says about ``environments``,
  ``role`` or ``option_called``, until its file records ``leaving`` up to ``released_on``.
  Deleting the file, dropping the environment, or turning a principal into an uncalled
  option without that record is refused.
- Every tenant the program would newly provision must be recorded (so the record is
  never behind the cluster): validate names the line to add.
- Database storage never shrinks: the record holds each tenant's volume size (the high
  water mark). The program uses the larger of the recorded and the computed size and
  says so; a computed size above the record is refused until the record is raised, so
  the record can never fall behind what was applied.

Domain core: no Pulumi, no Kubernetes client.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from epj.catalog import ServiceCatalog
from epj.tenants.loader import TenantError, TenantSet
from epj.tenants.model import Environment, Kommunenr, Tenant
from epj.tenants.sizing import database_sizing

REGISTRY_FOLDER = "provisioned"
PROCEDURE = "runbooks/process/tenant-leaving.md"


class ProvisionedTenant(BaseModel):
    """One line of the record: a tenant this environment has provisioned, since when, its volume size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kommunenummer: Kommunenr
    since: dt.date
    database_storage_gib: int = Field(gt=0, description="Size of each database volume as provisioned (never less).")


class Registry(BaseModel):
    """``tenants/provisioned/<env>.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: Environment
    tenants: tuple[ProvisionedTenant, ...] = ()

    def get(self, kommunenummer: str) -> ProvisionedTenant | None:
        for entry in self.tenants:
            if entry.kommunenummer == kommunenummer:
                return entry
        return None


def registry_path(tenants_directory: Path, environment: Environment | str) -> Path:
    return tenants_directory / REGISTRY_FOLDER / f"{Environment(environment).value}.yaml"


def _label(path: Path) -> str:
    return f"{REGISTRY_FOLDER}/{path.name}"


def read_registry(tenants_directory: Path, environment: Environment | str) -> tuple[Registry, list[TenantError]]:
    """The record of one environment; an absent file is an empty record (a new folder of tenants)."""
    env = Environment(environment)
    path = registry_path(tenants_directory, env)
    if not path.is_file():
        return Registry(environment=env), []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        registry = Registry.model_validate(raw)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return Registry(environment=env), [TenantError(_label(path), "(file)", f"cannot be read as YAML: {exc}")]
    except ValidationError as exc:
        errors = [
            TenantError(_label(path), ".".join(str(p) for p in e["loc"]) or "(file)", e["msg"]) for e in exc.errors()
        ]
        return Registry(environment=env), errors
    errors = []
    if registry.environment is not env:
        errors.append(TenantError(_label(path), "environment", f"must be {env.value!r} (the file's name)"))
    seen: set[str] = set()
    for index, entry in enumerate(registry.tenants):
        if entry.kommunenummer in seen:
            errors.append(TenantError(_label(path), f"tenants.{index}", f"{entry.kommunenummer} is listed twice"))
        seen.add(entry.kommunenummer)
    return registry, errors


@dataclass(frozen=True)
class Provisioned:
    """One tenant the program declares in an environment, with how its data-bearing resources are held.

    ``protect``: Pulumi refuses to delete them (false only once the file records ``released_on``,
    so that the next ``pulumi up`` clears the flag before the tenant's line leaves the record).
    ``storage_floor_gib``: the recorded volume size the program must not go below (None: new tenant).
    """

    tenant: Tenant
    protect: bool
    storage_floor_gib: int | None


def provisioned_tenants(tenant_set: TenantSet, registry: Registry) -> tuple[Provisioned, ...]:
    """What the program declares: recorded tenants until released, plus new active tenants not leaving.

    Assumes :func:`check_registry` found nothing (the program checks first).
    """
    env = registry.environment
    out: dict[str, Provisioned] = {}
    for entry in registry.tenants:
        tenant = tenant_set.get(entry.kommunenummer)
        released = tenant.leaving is not None and tenant.leaving.released
        out[tenant.kommunenummer] = Provisioned(tenant, not released, entry.database_storage_gib)
    for tenant in tenant_set.active(env):
        if tenant.kommunenummer not in out and tenant.leaving is None:
            out[tenant.kommunenummer] = Provisioned(tenant, True, None)
    return tuple(out[k] for k in sorted(out))


def check_registry(
    tenant_set: TenantSet,
    registry: Registry,
    *,
    registry_file: str,
    today: dt.date,
    require_recorded: bool = True,
    catalog: ServiceCatalog | None = None,
) -> list[TenantError]:
    """Every way the tenant files would lose provisioned data, or the record would fall behind.

    ``require_recorded`` (validate: on; the program: off, so a preview of a called option
    still renders) also refuses an active tenant missing from the record.
    ``catalog`` is unused today (storage depends on population only) but keeps the door
    open for service-dependent volumes.
    """
    del catalog
    env = registry.environment
    known: Mapping[str, Tenant] = {t.kommunenummer: t for t in tenant_set.tenants}
    errors: list[TenantError] = []
    for index, entry in enumerate(registry.tenants):
        nr = entry.kommunenummer
        tenant = known.get(nr)
        if tenant is None:
            errors.append(
                TenantError(
                    registry_file,
                    f"tenants.{index}",
                    f"kommune-{nr} is provisioned in {env.value} (since {entry.since.isoformat()}) but its tenant "
                    f"file is gone; deleting it would delete the municipality's database. Restore the file; to "
                    f"leave the platform record `leaving:` in it and follow {PROCEDURE}.",
                )
            )
            continue
        file = f"{tenant.file_stem}.yaml"
        leaving = tenant.leaving
        if leaving is None and not (tenant.active and env in tenant.environments):
            why = (
                f"its environments no longer list {env.value}"
                if env not in tenant.environments
                else "it is no longer a principal or a called option"
            )
            errors.append(
                TenantError(
                    file,
                    "environments" if env not in tenant.environments else "option_called",
                    f"kommune-{nr} is provisioned in {env.value} ({registry_file}) and {why}: that would delete "
                    f"its database. Undo the edit; to leave the platform record `leaving:` (reason, decided_on, "
                    f"decision) and follow {PROCEDURE}.",
                )
            )
        if leaving is not None and leaving.released_on is not None and leaving.released_on > today:
            errors.append(
                TenantError(
                    file,
                    "leaving.released_on",
                    f"{leaving.released_on.isoformat()} is in the future; record the release on the day it happens",
                )
            )
        computed = database_sizing(tenant).storage_gib
        if computed > entry.database_storage_gib:
            errors.append(
                TenantError(
                    registry_file,
                    f"tenants.{index}.database_storage_gib",
                    f"kommune-{nr}'s database volumes grow from {entry.database_storage_gib} to {computed} GiB: "
                    f"record database_storage_gib: {computed} here in the same change (the record is the "
                    "size volumes never shrink below)",
                )
            )
    if require_recorded:
        recorded = {e.kommunenummer for e in registry.tenants}
        for tenant in tenant_set.active(env):
            if tenant.kommunenummer in recorded:
                continue
            if tenant.leaving is not None:
                errors.append(
                    TenantError(
                        f"{tenant.file_stem}.yaml",
                        "leaving",
                        f"kommune-{tenant.kommunenummer} is leaving and was never provisioned in {env.value}; "
                        f"remove {env.value} from its environments (nothing is deployed for it)",
                    )
                )
                continue
            size = database_sizing(tenant).storage_gib
            errors.append(
                TenantError(
                    registry_file,
                    "tenants",
                    f"kommune-{tenant.kommunenummer} is active in {env.value} but not recorded: add "
                    f"`- {{kommunenummer: '{tenant.kommunenummer}', since: {today.isoformat()}, "
                    f"database_storage_gib: {size}}}` in the same change that activates it",
                )
            )
    return errors


def check_tenant_dir(tenants_directory: Path, tenant_set: TenantSet, today: dt.date | None = None) -> list[TenantError]:
    """The registry rules for every environment's record in a tenant folder (what ``epj tenants validate`` runs)."""
    day = today or dt.date.today()
    errors: list[TenantError] = []
    for env in Environment:
        path = registry_path(tenants_directory, env)
        registry, read_errors = read_registry(tenants_directory, env)
        errors += read_errors
        if read_errors or not path.is_file():
            continue
        errors += check_registry(tenant_set, registry, registry_file=_label(path), today=day)
    return errors
