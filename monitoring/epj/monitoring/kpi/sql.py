"""SQL objects the KPIs need, created idempotently with :func:`install`.

Functions take the kommunenummer and read ``kommune_<nr>.fhir_resource`` (the
migration's table: ``id, resource_type, patient_id, resource jsonb, source``) and
``kommune_<nr>.visit`` (written by the clinical services, see :data:`VISIT_DDL`),
so a report colleague or an analyst can call them from ``psql`` too:

    SELECT * FROM epj_kpi_medication('5035', '2026-02-01', '2026-03-01', interval '60 minutes');
"""

from __future__ import annotations

from typing import Any

# The visit table the services write (one row per planned visit or appointment). No personal data:
# patient_id is the FHIR Patient id, staff_id the HPR number or staff pseudonym, never a name.
VISIT_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.visit (
    id text PRIMARY KEY,
    patient_id text NOT NULL,
    staff_id text,
    service text NOT NULL CHECK (service IN ('home-care', 'nursing-home', 'health-station', 'day-care')),
    planned_start timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('planned', 'completed', 'no-show', 'cancelled')),
    source text NOT NULL DEFAULT 'epj'
);
CREATE INDEX IF NOT EXISTS visit_planned_start_idx ON {schema}.visit (planned_start);
"""

# E-messages (PLO) with hospitals and GP offices, as the e-messaging service records them. Turnaround is
# what the municipality controls: from an incoming message's arrival to the municipality's answer. No
# message content and no personal data: ids, direction, counterpart kind and times only.
EMESSAGE_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.emessage (
    id text PRIMARY KEY,
    direction text NOT NULL CHECK (direction IN ('in', 'out')),
    counterpart text NOT NULL CHECK (counterpart IN ('hospital', 'gp', 'other')),
    received_at timestamptz NOT NULL,
    answered_at timestamptz,
    source text NOT NULL DEFAULT 'epj'
);
CREATE INDEX IF NOT EXISTS emessage_received_at_idx ON {schema}.emessage (received_at);
"""

# Counted events the EPJ and its portals report after go-live (one row per event; ids only, never content or a
# person): wrong-medication warnings shown to a nurse, secure-chat messages sent, citizen-portal (HelsaMi)
# logins. The vendor's event export writes here; see monitoring/README.md, "Where each KPI comes from".
ACTIVITY_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.activity_event (
    id text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('wrong-medication-warning', 'secure-chat-message', 'citizen-portal-login')),
    occurred_at timestamptz NOT NULL,
    source text NOT NULL DEFAULT 'epj'
);
CREATE INDEX IF NOT EXISTS activity_event_occurred_at_idx ON {schema}.activity_event (occurred_at);
"""

FUNCTIONS = r"""
CREATE TABLE IF NOT EXISTS epj_kpi_baseline (
    tenant text NOT NULL CHECK (tenant ~ '^[0-9]{4}$'),
    kpi text NOT NULL,
    period text NOT NULL,
    value double precision,
    n bigint NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, kpi, period, taken_at)
);

CREATE OR REPLACE FUNCTION epj_kpi_schema(kommunenr text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF kommunenr IS NULL OR kommunenr !~ '^[0-9]{4}$' THEN
        RAISE EXCEPTION 'kommunenr must be 4 digits';
    END IF;
    RETURN 'kommune_' || kommunenr;
END $$;

CREATE OR REPLACE FUNCTION epj_kpi_planned_time(resource jsonb) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT (jsonb_path_query_first(
        resource, '$.extension[*] ? (@.url == "urn:epj:extension:planlagt-tidspunkt").valueDateTime'
    ) #>> '{}')::timestamptz
$$;

DROP FUNCTION IF EXISTS epj_kpi_medication(text, timestamptz, timestamptz, interval);
CREATE FUNCTION epj_kpi_medication(kommunenr text, p_from timestamptz, p_to timestamptz, p_window interval)
RETURNS TABLE (administrations bigint, planned_due bigint, on_time bigint, omitted bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass(epj_kpi_schema(kommunenr) || '.fhir_resource') IS NULL THEN
        RETURN QUERY SELECT 0::bigint, 0::bigint, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    -- Due doses are those planned in the period that were given (completed) or not given (not-done):
    -- an omission lowers the on-time share, it is not left out of it.
    RETURN QUERY EXECUTE format($q$
        WITH ma AS (
            SELECT resource->>'status' AS status,
                   coalesce(resource->>'effectiveDateTime', resource#>>'{effectivePeriod,start}')::timestamptz AS given,
                   epj_kpi_planned_time(resource) AS planned
            FROM %I.fhir_resource
            WHERE resource_type = 'MedicationAdministration' AND resource->>'status' IN ('completed', 'not-done')
        )
        SELECT count(*) FILTER (WHERE status = 'completed' AND given >= $1 AND given < $2),
               count(*) FILTER (WHERE planned >= $1 AND planned < $2),
               count(*) FILTER (WHERE status = 'completed' AND planned >= $1 AND planned < $2
                                AND abs(extract(epoch FROM given - planned)) <= extract(epoch FROM $3)),
               count(*) FILTER (WHERE status = 'not-done' AND planned >= $1 AND planned < $2)
        FROM ma
    $q$, epj_kpi_schema(kommunenr)) USING p_from, p_to, p_window;
END $$;

CREATE OR REPLACE FUNCTION epj_kpi_documents(kommunenr text, p_from timestamptz, p_to timestamptz)
RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE result bigint;
BEGIN
    IF to_regclass(epj_kpi_schema(kommunenr) || '.fhir_resource') IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format($q$
        SELECT count(*) FROM %I.fhir_resource
        WHERE resource_type = 'DocumentReference'
          AND (resource->>'date')::timestamptz >= $1 AND (resource->>'date')::timestamptz < $2
    $q$, epj_kpi_schema(kommunenr)) INTO result USING p_from, p_to;
    RETURN result;
END $$;

CREATE OR REPLACE FUNCTION epj_kpi_visits(kommunenr text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (home_care_visits bigint, same_staff_visits bigint, due bigint, no_show bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s text := epj_kpi_schema(kommunenr);
    hc bigint := 0; same bigint := 0; v_due bigint := 0; v_ns bigint := 0;
    a_due bigint := 0; a_ns bigint := 0;
BEGIN
    IF to_regclass(s || '.visit') IS NOT NULL THEN
        EXECUTE format($q$
            WITH v AS (SELECT * FROM %I.visit WHERE planned_start >= $1 AND planned_start < $2),
            per AS (SELECT patient_id, staff_id, count(*) AS c FROM v
                    WHERE status = 'completed' AND service = 'home-care' AND staff_id IS NOT NULL
                    GROUP BY patient_id, staff_id),
            top AS (SELECT patient_id, max(c) AS m, sum(c) AS total FROM per GROUP BY patient_id)
            SELECT coalesce((SELECT sum(total) FROM top), 0)::bigint,
                   coalesce((SELECT sum(m) FROM top), 0)::bigint,
                   (SELECT count(*) FROM v WHERE status IN ('completed', 'no-show')),
                   (SELECT count(*) FROM v WHERE status = 'no-show')
        $q$, s) INTO hc, same, v_due, v_ns USING p_from, p_to;
    END IF;
    IF to_regclass(s || '.fhir_resource') IS NOT NULL THEN
        EXECUTE format($q$
            SELECT count(*) FILTER (WHERE resource->>'status' IN ('fulfilled', 'arrived', 'checked-in', 'noshow')),
                   count(*) FILTER (WHERE resource->>'status' = 'noshow')
            FROM %I.fhir_resource
            WHERE resource_type = 'Appointment'
              AND (resource->>'start')::timestamptz >= $1 AND (resource->>'start')::timestamptz < $2
        $q$, s) INTO a_due, a_ns USING p_from, p_to;
    END IF;
    RETURN QUERY SELECT hc, same, v_due + a_due, v_ns + a_ns;
END $$;

DROP FUNCTION IF EXISTS epj_kpi_emessage_backlog(text, timestamptz);
CREATE FUNCTION epj_kpi_emessage_backlog(kommunenr text, p_at timestamptz)
RETURNS TABLE (unanswered bigint, oldest_seconds double precision, tracked boolean)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass(epj_kpi_schema(kommunenr) || '.emessage') IS NULL THEN
        RETURN QUERY SELECT 0::bigint, NULL::double precision, false;
        RETURN;
    END IF;
    -- Incoming messages that had arrived and were not answered at p_at (the period's end).
    RETURN QUERY EXECUTE format($q$
        SELECT count(*), max(extract(epoch FROM $1 - received_at))::double precision, true
        FROM %I.emessage
        WHERE direction = 'in' AND received_at < $1 AND (answered_at IS NULL OR answered_at >= $1)
    $q$, epj_kpi_schema(kommunenr)) USING p_at;
END $$;

CREATE OR REPLACE FUNCTION epj_kpi_activity(kommunenr text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (wrong_medication_warnings bigint, secure_chat_messages bigint, citizen_portal_logins bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass(epj_kpi_schema(kommunenr) || '.activity_event') IS NULL THEN
        RETURN QUERY SELECT 0::bigint, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT count(*) FILTER (WHERE kind = 'wrong-medication-warning'),
               count(*) FILTER (WHERE kind = 'secure-chat-message'),
               count(*) FILTER (WHERE kind = 'citizen-portal-login')
        FROM %I.activity_event WHERE occurred_at >= $1 AND occurred_at < $2
    $q$, epj_kpi_schema(kommunenr)) USING p_from, p_to;
END $$;

CREATE OR REPLACE FUNCTION epj_kpi_emessages(kommunenr text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (answered bigint, turnaround_seconds double precision)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass(epj_kpi_schema(kommunenr) || '.emessage') IS NULL THEN
        RETURN QUERY SELECT 0::bigint, 0::double precision;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT count(*),
               coalesce(sum(extract(epoch FROM answered_at - received_at)), 0)::double precision
        FROM %I.emessage
        WHERE direction = 'in' AND answered_at IS NOT NULL AND received_at >= $1 AND received_at < $2
    $q$, epj_kpi_schema(kommunenr)) USING p_from, p_to;
END $$;
"""


def install(conn: Any) -> None:
    """Create or replace the KPI functions and the baseline table (idempotent; safe to run on every start)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('epj-kpi-install'))")
        cur.execute(FUNCTIONS)
    conn.commit()


class KpiFunctionsMissing(RuntimeError):
    """The KPI functions are not in this database; reports never create them (they may run read-only)."""


def require_installed(conn: Any) -> None:
    """Check (without DDL) that :func:`install` has run in this database, so a read-only role can report."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT to_regprocedure('epj_kpi_medication(text,timestamptz,timestamptz,interval)') IS NOT NULL"
            " AND to_regclass('epj_kpi_baseline') IS NOT NULL"
        )
        row = cur.fetchone()
    if not row or not row[0]:
        raise KpiFunctionsMissing(
            "the KPI functions are not installed in this database; the database owner runs "
            "`epj monitoring kpi baseline` or starts the KPI exporter once (reports only read)"
        )


def _ensure_tenant_table(conn: Any, kommunenr: str, ddl: str) -> None:
    if not (len(kommunenr) == 4 and kommunenr.isdigit()):
        raise ValueError("kommunenr must be 4 digits")
    schema = f"kommune_{kommunenr}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        cur.execute(ddl.format(schema=schema))
    conn.commit()


def ensure_emessage_table(conn: Any, kommunenr: str) -> None:
    """Create ``kommune_<nr>.emessage`` if missing (the e-messaging service owns writes)."""
    _ensure_tenant_table(conn, kommunenr, EMESSAGE_DDL)


def ensure_activity_table(conn: Any, kommunenr: str) -> None:
    """Create ``kommune_<nr>.activity_event`` if missing (the EPJ's event export owns writes)."""
    _ensure_tenant_table(conn, kommunenr, ACTIVITY_DDL)


def ensure_visit_table(conn: Any, kommunenr: str) -> None:
    """Create ``kommune_<nr>.visit`` if missing (the services own writes; this only guarantees the shape)."""
    _ensure_tenant_table(conn, kommunenr, VISIT_DDL)
