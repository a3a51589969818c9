-- The tenant's application role as one JSON object: exists, can_login (false in
-- maintenance mode), its open sessions and its comment (the last completed
-- credential rotation).
-- psql -X -At -v app_role=kommune_5035_app -f app-role.sql
SELECT json_build_object(
    'exists', count(*) > 0,
    'can_login', coalesce(bool_or(rolcanlogin), false),
    'sessions', (SELECT count(*) FROM pg_stat_activity WHERE usename = :'app_role'),
    'comment', coalesce(max(shobj_description(oid, 'pg_authid')), '')
) FROM pg_roles WHERE rolname = :'app_role';
