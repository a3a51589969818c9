"""Going live seals the tenant's store (issue 12): the operator starts a short ``epj migrate seal`` Job at
Cutover → Live, not before; the Job's command exists and, run as the Job runs it (libpq's PG*
environment), seals a migrated store so that every later migration run is refused."""

from __future__ import annotations

import shlex
import urllib.parse
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.golive.schedule import Schedule
from epj.migration.pipeline import MigrationError, run_migration
from epj.operator import resources
from epj.operator.testing import LocalCluster, eventually

from .conftest import TENANTS, WAVE_NAME, wave_spec
from .test_e2e import MINUTE, cutover_job_done, phase_is, through_rehearsal

runner = CliRunner()


def _script(job: dict[str, object]) -> list[str]:
    container = job["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    command: list[str] = container["command"]
    return shlex.split(command[-1].split("exec ", 1)[1])


def test_seal_job_runs_the_seal_command_as_the_migration_component() -> None:
    job = resources.seal_job("5035", "golive-5035-cutover-1", "golive-5035", "img:1")
    assert job["metadata"]["name"] == "seal-5035-cutover-1"
    assert job["metadata"]["namespace"] == "kommune-5035"
    assert job["metadata"]["labels"]["epj.no/component"] == "migration"  # may reach its own PostgreSQL
    assert job["metadata"]["labels"]["epj.no/job-role"] == "seal"
    args = _script(job)
    assert args[:5] == ["epj", "migrate", "seal", "--tenant", "5035"]
    assert "PGPASSWORD" in job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert runner.invoke(app, ["migrate", "seal", "--help"]).exit_code == 0


@pytest.mark.postgres
def test_the_seal_command_as_the_job_runs_it_refuses_later_runs(
    sample_extract: Path, pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_migration(
        sample_extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r", run_id="migrate-cutover-5035-1"
    )
    url = urllib.parse.urlsplit(pg_dsn)
    for key, value in {
        "PGHOST": url.hostname,
        "PGPORT": str(url.port or 5432),
        "PGDATABASE": url.path.lstrip("/"),
        "PGUSER": url.username or "postgres",
    }.items():
        monkeypatch.setenv(key, str(value))
    args = _script(resources.seal_job("5035", "golive-5035-cutover-1", "golive-5035", "img:1"))
    result = runner.invoke(app, args[1:])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("sealed: kommune 5035 went live at ")
    assert "operator: GoLive golive-5035 Cutover -> Live" in result.output
    assert "migrate-cutover-5035-1" in result.output
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT live_run, sealed_by FROM kommune_5035.migration_seal").fetchall()
    assert rows == [("migrate-cutover-5035-1", "operator: GoLive golive-5035 Cutover -> Live")]
    with pytest.raises(MigrationError) as info:
        run_migration(sample_extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "again")
    assert info.value.code == "TENANT_LIVE"


async def test_operator_starts_the_seal_job_at_cutover_to_live_and_not_before(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec())
    await through_rehearsal(cluster, schedule, TENANTS)
    cluster.advance_to(schedule.cutover_at + MINUTE)
    for k in TENANTS:
        await cluster.approve(k, "go-no-go", "project-lead", "Rehearsal reconciled")
    await phase_is(cluster, "5035", "Cutover")
    await cutover_job_done(cluster, "5035")
    await eventually(lambda: cluster.job_state("kommune-5035", "smoke-5035-cutover-1"), what="smoke Job")
    # Cutover, smoke running: not live yet, nothing sealed.
    assert await cluster.job_state("kommune-5035", "seal-5035-cutover-1") is None
    await cluster.finish_job("kommune-5035", "smoke-5035-cutover-1", succeeded=True)
    await phase_is(cluster, "5035", "Live")
    await eventually(lambda: cluster.job_state("kommune-5035", "seal-5035-cutover-1"), what="seal Job")
    jobs = {j["metadata"]["name"]: j for j in await cluster.jobs("kommune-5035")}
    assert _script(jobs["seal-5035-cutover-1"])[:5] == ["epj", "migrate", "seal", "--tenant", "5035"]
    # Malvik still waits for Stjørdal's go-live to count: no seal Job of its own while in Freeze/Cutover.
    assert await cluster.job_state("kommune-5031", "seal-5031-cutover-1") is None


async def test_a_seal_job_lost_before_it_ran_is_started_again_after_a_restart_in_live(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    from epj.operator.kube import JOBS

    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec())
    await through_rehearsal(cluster, schedule, TENANTS)
    cluster.advance_to(schedule.cutover_at + MINUTE)
    for k in TENANTS:
        await cluster.approve(k, "go-no-go", "project-lead", "Rehearsal reconciled")
    await phase_is(cluster, "5035", "Cutover")
    await cutover_job_done(cluster, "5035")
    await eventually(lambda: cluster.job_state("kommune-5035", "smoke-5035-cutover-1"), what="smoke Job")
    await cluster.finish_job("kommune-5035", "smoke-5035-cutover-1", succeeded=True)
    await phase_is(cluster, "5035", "Live")
    await eventually(lambda: cluster.job_state("kommune-5035", "seal-5035-cutover-1"), what="seal Job")
    # As if the process died after saving Live but before the seal Job existed.
    await cluster.stop_operator()
    await cluster.client.delete(JOBS, "kommune-5035", "seal-5035-cutover-1")
    assert await cluster.job_state("kommune-5035", "seal-5035-cutover-1") is None
    await cluster.start_operator()
    await eventually(lambda: cluster.job_state("kommune-5035", "seal-5035-cutover-1"), what="seal Job again")
    body = await cluster.golive("5035")
    assert body is not None and body["status"]["phase"] == "Live"
