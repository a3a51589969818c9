"""The 22 municipality files, and how a broken file is reported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from epj.cli import app
from epj.tenants import Role, load_tenants, validate_tenant_dir
from epj.tenants.loader import TenantSetInvalid

PRINCIPALS = {"5035", "5031", "5006", "5059"}
OPTIONS = {
    "1811", "5049", "5036", "5014", "1557", "5045", "5046", "5053", "5052",
    "5042", "5034", "5007", "5044", "5060", "5020", "5047", "5043", "5041",
}  # fmt: skip


def test_all_22_tenant_files_validate() -> None:
    tenants = load_tenants()
    assert len(tenants) == 22
    assert {t.kommunenummer for t in tenants.tenants if t.role is Role.principal} == PRINCIPALS
    assert {t.kommunenummer for t in tenants.tenants if t.role is Role.option} == OPTIONS
    # DESIGN §2: 144,431 inhabitants (Q3 2024); our per-municipality figures are marked estimates.
    total = sum(t.population.inhabitants for t in tenants.tenants)
    assert abs(total - 144_431) / 144_431 < 0.02
    assert all(t.population.estimate for t in tenants.tenants if t.population.note)


def test_tenants_are_sorted_by_kommunenummer_and_principals_are_active() -> None:
    tenants = load_tenants()
    numbers = [t.kommunenummer for t in tenants.tenants]
    assert numbers == sorted(numbers)
    assert all(t.active for t in tenants.tenants if t.role is Role.principal)
    uncalled = [t for t in tenants.tenants if t.role is Role.option and not t.option_called]
    assert uncalled, "the shipped set keeps some options uncalled"
    assert not set(t.kommunenummer for t in uncalled) & {t.kommunenummer for t in tenants.active()}


def _copy_tenants(tmp_path: Path, repo_root: Path) -> Path:
    target = tmp_path / "tenants"
    target.mkdir()
    for path in (repo_root / "tenants").glob("*.yaml"):
        shutil.copy(path, target / path.name)
    return target


def _edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "field", "reason_part"),
    [
        ({"kommunenummer": "50355"}, "kommunenummer", "pattern"),
        ({"services": ["journal", "teleportation"]}, "services.1", "unknown service 'teleportation'"),
        ({"expected_end_users": None}, "expected_end_users", "integer"),
        ({"county": "Nordland"}, "(file)", "county must be 'Trøndelag'"),
        ({"role": "principal", "option_called": False}, "(file)", "principal is always in"),
    ],
)
def test_broken_file_names_file_field_and_reason(
    tmp_path: Path, repo_root: Path, change: dict[str, object], field: str, reason_part: str
) -> None:
    folder = _copy_tenants(tmp_path, repo_root)
    _edit(folder / "5035-stjordal.yaml", **change)
    _, errors = validate_tenant_dir(folder)
    matching = [e for e in errors if e.file == "5035-stjordal.yaml"]
    assert matching, errors
    assert any(e.field == field and reason_part in e.reason for e in matching), matching
    with pytest.raises(TenantSetInvalid):
        load_tenants(folder)


def test_missing_field_is_reported(tmp_path: Path, repo_root: Path) -> None:
    folder = _copy_tenants(tmp_path, repo_root)
    path = folder / "5031-malvik.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["contacts"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _, errors = validate_tenant_dir(folder)
    assert [(e.file, e.field) for e in errors] == [("5031-malvik.yaml", "contacts")]


def test_duplicate_and_misnamed_files_are_errors(tmp_path: Path, repo_root: Path) -> None:
    folder = _copy_tenants(tmp_path, repo_root)
    shutil.copy(folder / "5035-stjordal.yaml", folder / "5035-stjordal-copy.yaml")
    _, errors = validate_tenant_dir(folder)
    assert any(e.file == "5035-stjordal-copy.yaml" and "must be named 5035-stjordal.yaml" in e.reason for e in errors)


def test_cli_validate_exits_nonzero_and_prints_every_error(tmp_path: Path, repo_root: Path) -> None:
    folder = _copy_tenants(tmp_path, repo_root)
    _edit(folder / "5035-stjordal.yaml", services=["bogus"])
    _edit(folder / "5006-steinkjer.yaml", kommunenummer="abcd")
    result = CliRunner().invoke(app, ["tenants", "validate", "--dir", str(folder)])
    assert result.exit_code == 1
    assert "5035-stjordal.yaml" in result.output and "services.0" in result.output
    assert "5006-steinkjer.yaml" in result.output and "kommunenummer" in result.output


def test_cli_validate_and_list_succeed_on_the_shipped_set() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["tenants", "validate"]).exit_code == 0
    listed = runner.invoke(app, ["tenants", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0
    assert "Stjørdal" in listed.output and "Røyrvik" in listed.output


def test_calling_an_option_changes_only_that_tenant() -> None:
    tenants = load_tenants()
    called = tenants.with_option_called("5036")
    assert called.get("5036").active and not tenants.get("5036").active
    for before, after in zip(tenants.tenants, called.tenants, strict=True):
        if before.kommunenummer != "5036":
            assert before == after


def test_gp_offices_are_tenants_of_their_own_kind_linked_to_their_municipality() -> None:
    tenant_set = load_tenants()
    assert {g.id: g.municipality for g in tenant_set.gp_offices} == {
        "5006-legesenter": "5006",
        "5031-legesenter": "5031",
        "5035-sentrum-legesenter": "5035",
        "5059-orkanger-legesenter": "5059",
    }
    assert [g.id for g in tenant_set.gp_offices_of("5035")] == ["5035-sentrum-legesenter"]
    assert all(not g.needs_namespace for g in tenant_set.gp_offices)


def test_a_gp_office_file_with_a_wrong_link_is_reported_with_file_and_field(tmp_path: Path) -> None:
    from epj.paths import tenants_dir

    for path in tenants_dir().glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    offices = tmp_path / "gp-offices"
    offices.mkdir()
    good = (tenants_dir() / "gp-offices" / "5035-sentrum-legesenter.yaml").read_text(encoding="utf-8")
    (offices / "5035-sentrum-legesenter.yaml").write_text(good.replace("municipality: '5035'", "municipality: '5031'"))
    (offices / "9999-x.yaml").write_text(good.replace("5035-sentrum-legesenter", "9999-x").replace("'5035'", "'9999'"))
    _, errors = validate_tenant_dir(tmp_path)
    found = {(e.file, e.field) for e in errors}
    assert ("gp-offices/5035-sentrum-legesenter.yaml", "(file)") in found  # id does not start with 5031-
    assert ("gp-offices/9999-x.yaml", "municipality") in found
    assert all("id must start" in e.reason for e in errors if e.file.endswith("legesenter.yaml"))
