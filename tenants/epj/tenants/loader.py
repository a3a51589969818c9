"""Read and validate the whole set of tenant files.

Nothing is deployed, migrated or planned from a set that has any error, so this
collects *every* problem (file, field, reason) instead of stopping at the first:
an operator fixing 22 files wants the full list in one run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from epj.catalog import ServiceCatalog, load_catalog
from epj.paths import tenants_dir
from epj.tenants.gp_office import GpOffice
from epj.tenants.model import Environment, Tenant

#: GP offices live in this sub-folder of the tenants folder, one file each.
GP_OFFICE_DIR = "gp-offices"


@dataclass(frozen=True)
class TenantError:
    """One problem in one file, phrased for the person editing that file."""

    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


class TenantSetInvalid(Exception):
    """Raised when the tenant set has errors; carries all of them."""

    def __init__(self, errors: list[TenantError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} error(s) in tenant files:\n" + "\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class TenantSet:
    """All municipalities, sorted by kommunenummer (a deterministic order everyone shares)."""

    tenants: tuple[Tenant, ...]
    gp_offices: tuple[GpOffice, ...] = ()

    def __iter__(self) -> Iterable[Tenant]:  # type: ignore[override]
        return iter(self.tenants)

    def __len__(self) -> int:
        return len(self.tenants)

    def get(self, kommunenummer: str) -> Tenant:
        for tenant in self.tenants:
            if tenant.kommunenummer == kommunenummer:
                return tenant
        raise KeyError(f"no tenant with kommunenummer {kommunenummer}")

    def active(self, environment: Environment | str | None = None) -> tuple[Tenant, ...]:
        """Tenants the platform provisions: principals and called options (in that environment)."""
        env = Environment(environment) if environment is not None else None
        return tuple(t for t in self.tenants if t.active and (env is None or env in t.environments))

    def with_option_called(self, kommunenummer: str) -> TenantSet:
        """The same set with one more option called: what `epj tenants call-option` previews."""
        return TenantSet(
            tuple(
                t.model_copy(update={"option_called": True}) if t.kommunenummer == kommunenummer else t
                for t in self.tenants
            ),
            self.gp_offices,
        )

    def gp_offices_of(self, kommunenummer: str) -> tuple[GpOffice, ...]:
        """The GP offices in a municipality (they go live before or with it)."""
        return tuple(g for g in self.gp_offices if g.municipality == kommunenummer)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def parse_tenant_file(path: Path, catalog: ServiceCatalog) -> tuple[Tenant | None, list[TenantError]]:
    """Parse one file; return the tenant (if valid) and every error found in it."""
    name = path.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return None, [TenantError(name, "(file)", f"cannot be read as YAML: {exc}")]
    if not isinstance(raw, dict):
        return None, [TenantError(name, "(file)", "must be a YAML mapping of tenant fields")]
    try:
        tenant = Tenant.model_validate(raw)
    except ValidationError as exc:
        return None, [TenantError(name, _field_path(e["loc"]), e["msg"]) for e in exc.errors()]
    errors: list[TenantError] = []
    if path.stem != tenant.file_stem:
        errors.append(
            TenantError(name, "kommunenummer", f"file must be named {tenant.file_stem}.yaml to match its content")
        )
    known = set(catalog.names())
    for index, service in enumerate(tenant.services):
        if service not in known:
            errors.append(
                TenantError(
                    name,
                    f"services.{index}",
                    f"unknown service {service!r}; known: {', '.join(sorted(known))}",
                )
            )
    return (tenant if not errors else None), errors


def validate_tenant_dir(directory: Path | None = None) -> tuple[TenantSet, list[TenantError]]:
    """Validate every ``*.yaml`` in the folder and the set as a whole; never raises on bad content."""
    folder = directory or tenants_dir()
    catalog = load_catalog()
    files = sorted(folder.glob("*.yaml"))
    tenants: list[Tenant] = []
    errors: list[TenantError] = []
    if not files:
        errors.append(TenantError(str(folder), "(folder)", "holds no tenant files (*.yaml)"))
    seen: dict[str, str] = {}
    for path in files:
        tenant, file_errors = parse_tenant_file(path, catalog)
        errors.extend(file_errors)
        if tenant is None:
            continue
        if tenant.kommunenummer in seen:
            errors.append(
                TenantError(
                    path.name,
                    "kommunenummer",
                    f"{tenant.kommunenummer} is already used by {seen[tenant.kommunenummer]}",
                )
            )
            continue
        seen[tenant.kommunenummer] = path.name
        tenants.append(tenant)
    for tenant in tenants:
        for index, dep in enumerate(tenant.depends_on):
            if dep not in seen:
                errors.append(
                    TenantError(
                        f"{tenant.file_stem}.yaml",
                        f"depends_on.{index}",
                        f"no tenant with kommunenummer {dep}",
                    )
                )
    tenants.sort(key=lambda t: t.kommunenummer)
    offices, office_errors = _gp_offices(folder / GP_OFFICE_DIR, seen)
    tenant_set = TenantSet(tuple(tenants), offices)
    if not errors:
        # What each environment has provisioned may not be lost by an edit (issue 12). Checked once
        # the municipality files themselves are sound, so a typo is not reported as a deleted tenant.
        from epj.tenants.provisioned import check_tenant_dir

        errors.extend(check_tenant_dir(folder, tenant_set))
    errors.extend(office_errors)
    return tenant_set, errors


def _gp_offices(folder: Path, municipalities: dict[str, str]) -> tuple[tuple[GpOffice, ...], list[TenantError]]:
    """Every ``gp-offices/*.yaml``, each linked to a municipality of the set."""
    offices: list[GpOffice] = []
    errors: list[TenantError] = []
    seen: set[str] = set()
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        name = f"{GP_OFFICE_DIR}/{path.name}"
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            errors.append(TenantError(name, "(file)", f"cannot be read as YAML: {exc}"))
            continue
        if not isinstance(raw, dict):
            errors.append(TenantError(name, "(file)", "must be a YAML mapping of GP office fields"))
            continue
        try:
            office = GpOffice.model_validate(raw)
        except ValidationError as exc:
            errors.extend(TenantError(name, _field_path(e["loc"]), e["msg"]) for e in exc.errors())
            continue
        if path.stem != office.file_stem:
            errors.append(TenantError(name, "id", f"file must be named {office.file_stem}.yaml to match its content"))
        elif office.municipality not in municipalities:
            errors.append(
                TenantError(name, "municipality", f"no municipality with kommunenummer {office.municipality}")
            )
        elif office.needs_namespace:
            errors.append(
                TenantError(
                    name,
                    "needs_namespace",
                    "the platform provisions nothing for GP offices yet (they keep their own record systems); "
                    "set it to false, or ask the platform team to add a GP-office namespace to infra/",
                )
            )
        elif office.id in seen:
            errors.append(TenantError(name, "id", f"{office.id} is used twice"))
        else:
            seen.add(office.id)
            offices.append(office)
    return tuple(offices), errors


def load_tenants(directory: Path | None = None) -> TenantSet:
    """The validated tenant set; raises TenantSetInvalid listing every error otherwise."""
    tenant_set, errors = validate_tenant_dir(directory)
    if errors:
        raise TenantSetInvalid(errors)
    return tenant_set
