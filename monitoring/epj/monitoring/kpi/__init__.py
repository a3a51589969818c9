"""Clinical KPIs per tenant, from the tenant's PostgreSQL (see :mod:`.model` for the definitions).

Public surface for other areas (e.g. the gains report): :func:`compute_kpis`,
:func:`load_baseline`, :func:`take_baseline`, :func:`install`, :class:`KpiValue`.
"""

from epj.monitoring.kpi.compute import compute_kpis, load_baseline, take_baseline, tenants_with_data
from epj.monitoring.kpi.model import KPI_NAMES, MIN_SAMPLE, Baseline, KpiValue
from epj.monitoring.kpi.sql import ensure_emessage_table, ensure_visit_table, install

__all__ = [
    "KPI_NAMES",
    "MIN_SAMPLE",
    "Baseline",
    "KpiValue",
    "compute_kpis",
    "ensure_emessage_table",
    "ensure_visit_table",
    "install",
    "load_baseline",
    "take_baseline",
    "tenants_with_data",
]
