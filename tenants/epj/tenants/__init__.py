"""Tenants: the municipalities as code (domain core)."""

from epj.tenants.gp_office import GpOffice
from epj.tenants.loader import TenantError, TenantSet, TenantSetInvalid, load_tenants, validate_tenant_dir
from epj.tenants.model import Environment, LegacySystem, Role, Tenant

__all__ = [
    "Environment",
    "GpOffice",
    "LegacySystem",
    "Role",
    "Tenant",
    "TenantError",
    "TenantSet",
    "TenantSetInvalid",
    "load_tenants",
    "validate_tenant_dir",
]
