"""The tenant's data is there and consistent with the recorded manifest.

"Consistent" here means: the schema exists, and its rows per table and per FHIR
resource type equal those the manifest (by default the newest backup's) recorded.
Right after a restore they must be equal; later, ordinary clinical work changes them,
so pass --manifest explicitly when checking against an older state.
"""

from __future__ import annotations

from typing import Any


def test_tenant_schema_exists(pg: Any, fingerprint: Any, schema: str) -> None:
    assert fingerprint(schema)["schema_exists"], f"schema {schema} is missing in database {pg.database}"


def test_rows_per_resource_type_match_manifest(
    host: Any, pg: Any, fingerprint: Any, schema: str, manifest: dict[str, Any]
) -> None:
    live = fingerprint(schema)["resource_types"]
    assert live == manifest["fingerprint"]["resource_types"], (
        f"{schema}: rows per resource type differ from the manifest: live {live}, "
        f"manifest {manifest['fingerprint']['resource_types']}"
    )


def test_rows_per_table_match_manifest(
    host: Any, pg: Any, fingerprint: Any, schema: str, manifest: dict[str, Any]
) -> None:
    live = {name: t["rows"] for name, t in fingerprint(schema)["tables"].items()}
    recorded = {name: t["rows"] for name, t in manifest["fingerprint"]["tables"].items()}
    assert live == recorded, f"{schema}: rows per table differ from the manifest: live {live}, manifest {recorded}"
