-- Health of the tenant database as one JSON object, for diagnose-tenant.yml.
-- Read-only; shows no query text (it can hold patient data), only counts and ages.
-- psql -X -At -v schema=kommune_5035 -v app_role=kommune_5035_app -f health.sql
\set ON_ERROR_STOP on
SELECT json_build_object(
    'database', current_database(),
    'server_version', current_setting('server_version'),
    'in_recovery', pg_is_in_recovery(),
    'database_size_mb', round(pg_database_size(current_database()) / 1048576.0, 1),
    'schema_size_mb', (SELECT round(coalesce(sum(pg_total_relation_size(c.oid)), 0) / 1048576.0, 1)
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = :'schema' AND c.relkind IN ('r', 'm')),
    'connections', (SELECT json_object_agg(coalesce(state, 'unknown'), n)
                    FROM (SELECT state, count(*) AS n FROM pg_stat_activity
                          WHERE datname = current_database() GROUP BY state) s),
    'max_connections', current_setting('max_connections')::int,
    'app_role_sessions', (SELECT count(*) FROM pg_stat_activity WHERE usename = :'app_role'),
    'app_role_can_login', (SELECT rolcanlogin FROM pg_roles WHERE rolname = :'app_role'),
    'queries_running_over_5_min', (SELECT count(*) FROM pg_stat_activity
                                   WHERE state = 'active' AND now() - query_start > interval '5 minutes'),
    'idle_in_transaction_over_5_min', (SELECT count(*) FROM pg_stat_activity
                                       WHERE state = 'idle in transaction'
                                         AND now() - state_change > interval '5 minutes'),
    'sessions_waiting_on_locks', (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'),
    'oldest_transaction_age_s', (SELECT coalesce(round(extract(epoch FROM max(now() - xact_start))), 0)
                                 FROM pg_stat_activity WHERE datname = current_database()),
    'deadlocks', (SELECT deadlocks FROM pg_stat_database WHERE datname = current_database())
);
