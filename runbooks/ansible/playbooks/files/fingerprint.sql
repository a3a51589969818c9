-- Fingerprint of one tenant schema: row count and content hash per table, and row
-- counts per FHIR resource type. Backups record it in their manifest; restore and
-- the testinfra checks compare the live schema against it. Read-only.
--
-- psql -X -At -v schema=kommune_5035 -v rtable=fhir_resource -v rtype=resource_type -f fingerprint.sql
-- Prints one JSON object. Dynamic SQL runs through query_to_xml so no helper
-- function has to be created in the tenant's database.
\set ON_ERROR_STOP on
WITH tables AS (
    SELECT c.relname AS name,
           query_to_xml(
               format(
                   'SELECT count(*) AS n, coalesce(md5(string_agg(md5(t::text), '''' ORDER BY md5(t::text))), '''') AS h FROM %I.%I t',
                   n.nspname, c.relname),
               false, true, '') AS x
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = :'schema' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
),
types AS (
    SELECT (xpath('/row/k/text()', r))[1]::text AS resource_type,
           (xpath('/row/n/text()', r))[1]::text::bigint AS n
    FROM unnest(xpath('/table/row', CASE
        WHEN EXISTS (SELECT 1 FROM information_schema.columns
                     WHERE table_schema = :'schema' AND table_name = :'rtable' AND column_name = :'rtype')
        THEN query_to_xml(format('SELECT %I::text AS k, count(*) AS n FROM %I.%I GROUP BY 1', :'rtype', :'schema', :'rtable'),
                          false, false, '')
        ELSE '<table/>'::xml
    END)) AS r
)
SELECT json_build_object(
    'schema', :'schema',
    'schema_exists', EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = :'schema'),
    'tables', coalesce((SELECT json_object_agg(name, json_build_object(
                            'rows', (xpath('/row/n/text()', x))[1]::text::bigint,
                            'md5', (xpath('/row/h/text()', x))[1]::text) ORDER BY name)
                        FROM tables), '{}'::json),
    'resource_types', coalesce((SELECT json_object_agg(resource_type, n ORDER BY resource_type) FROM types), '{}'::json)
);
