"""epj migrate — legacy extracts (Profil CSV, CGM XML) to FHIR R4, into PostgreSQL or NDJSON.

Modules, in the order data flows through them:

- ``readers``        streaming readers: manifest, Profil CSV (cp1252), CGM XML (iterparse)   [domain core]
- ``values``, ``identity``, ``codes``  value parsers (Oslo time), national ids, stable ids   [domain core]
- ``rules``          the per-record decision of SPEC §5/§7: migrate or quarantine, warnings   [domain core]
- ``mapping``        FHIR R4 resource builders (plain dicts; proven valid in the tests)        [domain core]
- ``reconciliation`` the SPEC §6 report and its human summary                                 [domain core]
- ``explain``        which field broke which rule, for quarantine rows (never the value)      [domain core]
- ``targets``        NDJSON (atomic symlink swap) and PostgreSQL (COPY to staging, publish)   [adapter]
- ``store``          the tenant store's run ledger and go-live seal (``epj migrate seal``)     [adapter]
- ``pipeline``       ``run_migration(...)``: the library entry the CLI, rehearsal and Job use
- ``observe``        Prometheus metrics and OpenTelemetry spans (tenant label, no personal data)
- ``bench``          ``epj migrate bench``; ``cli`` the Typer adapter; ``generate`` synthetic extracts

Import ``run_migration`` from :mod:`epj.migration.pipeline` (kept out of this file so that importing
the package for the CLI stays cheap).
"""
