"""The operator exports each MigrationJob's persisted status as the migration metrics the rules read.

Expected values are written from the status documents below, not from the exporter's code.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from epj.operator.metrics import OperatorMetrics


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def _finished(state: str, at: str, read: int, migrated: int, quarantined: int, complete: bool) -> dict[str, object]:
    return {
        "state": state,
        "startedAt": "2027-03-01T18:00:00Z",
        "finishedAt": at,
        "reconciliation": {
            "complete": complete,
            "counts": {"read": read, "migrated": migrated, "quarantined": quarantined,
                       "unaccounted": read - migrated - quarantined},
        },
    }  # fmt: skip


def test_a_running_job_is_running_with_its_start_time() -> None:
    metrics = OperatorMetrics.create()
    metrics.migration(
        "golive-5035-rehearsal-1", "5035", "rehearsal", {"state": "Running", "startedAt": "2027-03-01T18:00:00Z"}
    )
    reg = metrics.registry
    assert _value(reg, "epj_migration_running", tenant="5035", purpose="rehearsal") == 1
    assert (
        _value(reg, "epj_migration_started_timestamp_seconds", tenant="5035", purpose="rehearsal") == 1803924000.0
    )  # 2027-03-01T18:00:00Z
    assert _value(reg, "epj_migration_last_run_success", tenant="5035", purpose="rehearsal") is None


def test_a_finished_run_reports_success_and_its_reconciliation_counts() -> None:
    metrics = OperatorMetrics.create()
    metrics.migration("mj-1", "5035", "cutover", {"state": "Running", "startedAt": "2027-03-01T18:00:00Z"})
    metrics.migration("mj-1", "5035", "cutover", _finished("Succeeded", "2027-03-01T20:00:00Z", 1000, 990, 10, True))
    reg = metrics.registry
    assert _value(reg, "epj_migration_running", tenant="5035", purpose="cutover") == 0
    assert _value(reg, "epj_migration_last_run_success", tenant="5035", purpose="cutover") == 1
    counts = {c: _value(reg, "epj_migration_last_run_records", tenant="5035", purpose="cutover", category=c)
              for c in ("read", "migrated", "quarantined", "unaccounted")}  # fmt: skip
    assert counts == {"read": 1000, "migrated": 990, "quarantined": 10, "unaccounted": 0}


def test_succeeded_but_incomplete_reconciliation_is_not_a_success() -> None:
    metrics = OperatorMetrics.create()
    metrics.migration("mj-1", "5031", "rehearsal", _finished("Succeeded", "2027-03-01T20:00:00Z", 100, 90, 5, False))
    assert _value(metrics.registry, "epj_migration_last_run_success", tenant="5031", purpose="rehearsal") == 0


def test_an_older_run_seen_after_a_newer_one_does_not_overwrite_it() -> None:
    """After a restart the daemons sync every MigrationJob in any order: the newest finishedAt wins."""
    metrics = OperatorMetrics.create()
    metrics.migration("mj-2", "5035", "rehearsal", _finished("Succeeded", "2027-03-02T20:00:00Z", 100, 100, 0, True))
    metrics.migration("mj-1", "5035", "rehearsal", _finished("Failed", "2027-03-01T20:00:00Z", 100, 10, 0, False))
    reg = metrics.registry
    assert _value(reg, "epj_migration_last_run_success", tenant="5035", purpose="rehearsal") == 1
    assert _value(reg, "epj_migration_last_run_records", tenant="5035", purpose="rehearsal", category="migrated") == 100
    metrics.migration("mj-3", "5035", "rehearsal", _finished("Failed", "2027-03-03T20:00:00Z", 100, 10, 0, False))
    assert _value(reg, "epj_migration_last_run_success", tenant="5035", purpose="rehearsal") == 0


def test_running_stays_one_while_any_job_of_the_tenant_runs() -> None:
    metrics = OperatorMetrics.create()
    metrics.migration("mj-2", "5035", "rehearsal", {"state": "Running", "startedAt": "2027-03-02T18:00:00Z"})
    metrics.migration("mj-1", "5035", "rehearsal", _finished("Failed", "2027-03-01T20:00:00Z", 1, 0, 0, False))
    assert _value(metrics.registry, "epj_migration_running", tenant="5035", purpose="rehearsal") == 1


def test_wave_membership_is_exported_for_the_dashboards() -> None:
    metrics = OperatorMetrics.create()
    metrics.wave("5035", "wave-2027-q1")
    metrics.wave("5035", "wave-2027-q2")
    reg = metrics.registry
    assert _value(reg, "epj_golive_wave", tenant="5035", wave="wave-2027-q1") == 0
    assert _value(reg, "epj_golive_wave", tenant="5035", wave="wave-2027-q2") == 1
