"""Post-cutover smoke check in the tenant's namespace (``epj golive smoke --tenant TENANT``, the smoke Job).

The same check the rehearsal runs (:func:`epj.rehearsal.local.smoke_check_target`): the tenant's
PostgreSQL answers and holds, per FHIR resource type, exactly the rows the migration's own
reconciliation (``kommune_<nr>.migration_reconciliation``, written in the load's transaction)
says it wrote. The connection comes from libpq's ``PG*`` variables (the Job's entry script reads
the owner Secret into ``PGUSER``/``PGPASSWORD``, as the migration Job does), so no credential
is ever on a command line. Messages name resource types and counts only, never patient data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SmokeOutcome:
    """Result of one smoke check; ``to_json`` is the one-line summary the Job prints."""

    tenant: str
    passed: bool
    message: str
    found: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "tenant": self.tenant,
            "passed": self.passed,
            "message": self.message,
            "resources": sum(self.found.values()),
            "expected": sum(self.expected.values()),
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True)


def compare(tenant: str, found: dict[str, int], expected: dict[str, int]) -> SmokeOutcome:
    """Pass when every resource type has exactly the reconciled count (and nothing unreconciled exists)."""
    wrong = sorted(k for k in set(found) | set(expected) if found.get(k, 0) != expected.get(k, 0))
    if wrong:
        detail = ", ".join(f"{k} {found.get(k, 0)}≠{expected.get(k, 0)}" for k in wrong)
        return SmokeOutcome(tenant, False, f"target disagrees with the reconciliation: {detail}", found, expected)
    message = f"target answers with {sum(found.values())} resources of {len(found)} types, as reconciled"
    return SmokeOutcome(tenant, True, message, found, expected)


def smoke_check(dsn: str, tenant: str) -> SmokeOutcome:
    """Run the check against ``dsn`` (``""``: libpq's ``PG*`` environment) for kommunenummer ``tenant``."""
    import psycopg

    from epj.migration.store import migrated_counts
    from epj.migration.targets import tenant_schema

    try:
        schema = tenant_schema(tenant)
    except ValueError:
        return SmokeOutcome(tenant, False, f"tenant {tenant!r} is not a 4-digit kommunenummer")
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            exists = conn.execute("SELECT to_regclass(%s), to_regclass(%s)", (
                f"{schema}.migration_reconciliation", f"{schema}.fhir_resource",
            )).fetchone()  # fmt: skip
            if exists is None or exists[0] is None or exists[1] is None:
                return SmokeOutcome(tenant, False, f"no migrated data in schema {schema} (no reconciliation found)")
            row = conn.execute(
                f"SELECT reconciliation FROM {schema}.migration_reconciliation WHERE kommunenr = %s", (tenant,)
            ).fetchone()
            found = migrated_counts(conn, schema)  # rows others wrote are not the migration's to count
    except psycopg.Error as error:
        return SmokeOutcome(tenant, False, f"database check failed: {type(error).__name__}")
    if row is None:
        return SmokeOutcome(tenant, False, f"no reconciliation recorded for {tenant} in {schema}")
    report = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    if not report.get("complete"):
        return SmokeOutcome(tenant, False, "the recorded migration is not complete (see its reconciliation report)")
    expected = {str(k): int(v) for k, v in (report.get("resources") or {}).items()}
    return compare(tenant, found, expected)
