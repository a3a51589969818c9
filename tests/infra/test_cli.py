"""`epj render`: files per tenant plus platform, clear errors, nothing written from an invalid set."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from epj.cli import app
from epj.infra.render import PASSWORD_PLACEHOLDER
from epj.tenants import TenantSet

from .conftest import UNCALLED_OPTION

runner = CliRunner()


def test_render_writes_one_file_per_tenant_plus_platform(tmp_path: Path, tenant_set: TenantSet) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "kommune-0000.yaml").write_text("stale", encoding="utf-8")
    result = runner.invoke(app, ["render", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([*(f"{t.namespace}.yaml" for t in tenant_set.active("test")), "platform.yaml"])
    docs = list(yaml.safe_load_all((out / "kommune-5035.yaml").read_text(encoding="utf-8")))
    assert docs[0]["kind"] == "Namespace" and docs[0]["metadata"]["name"] == "kommune-5035"
    assert {d["metadata"].get("namespace", d["metadata"]["name"]) for d in docs} == {"kommune-5035"}
    secret = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "epj-db-owner")
    assert secret["stringData"]["password"] == PASSWORD_PLACEHOLDER
    backup_key = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "epj-db-backup-s3")
    assert set(backup_key["stringData"].values()) == {"pulumi-secret-backupCredentials"}
    assert "validated" in result.output


def test_render_one_tenant_and_preview_an_option(tmp_path: Path) -> None:
    result = runner.invoke(app, ["render", "--tenant", "5031", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["kommune-5031.yaml"]

    refused = runner.invoke(app, ["render", "--tenant", UNCALLED_OPTION, "--out", str(tmp_path / "x")])
    assert refused.exit_code == 2
    assert "option is not called" in refused.output
    assert "Traceback" not in refused.output
    assert not (tmp_path / "x").exists()

    preview = runner.invoke(app, ["render", "--tenant", UNCALLED_OPTION, "--what-if", "--out", str(tmp_path / "p")])
    assert preview.exit_code == 0, preview.output
    assert [p.name for p in (tmp_path / "p").iterdir()] == [f"kommune-{UNCALLED_OPTION}.yaml"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "staging"], "unknown environment"),
        (["--tenant", "0301"], "no tenant with kommunenummer 0301"),
    ],
)
def test_render_rejects_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["render", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_render_from_an_invalid_tenant_set_writes_nothing(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants = tmp_path / "tenants"
    shutil.copytree(repo_root / "tenants", tenants, ignore=shutil.ignore_patterns("epj"))
    broken = tenants / "5035-stjordal.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("kommunenummer: '5035'", "kommunenummer: '50x5'"))
    monkeypatch.setenv("EPJ_TENANTS_DIR", str(tenants))
    result = runner.invoke(app, ["render", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "nothing rendered" in result.output
    assert "5035-stjordal.yaml: kommunenummer" in result.output
    assert not (tmp_path / "out").exists()


def test_render_with_a_broken_stack_file_names_file_and_key(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    text = (repo_root / "infra" / "Pulumi.test.yaml").read_text(encoding="utf-8")
    (infra / "Pulumi.test.yaml").write_text(text.replace("epj-platform:imageTag:", "epj-platform:imageTagg:"))
    monkeypatch.setenv("EPJ_INFRA_DIR", str(infra))
    result = runner.invoke(app, ["render", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "Pulumi.test.yaml" in result.output and "epj-platform:imageTagg" in result.output
    assert not (tmp_path / "out").exists()
