"""Issue 12 at the tenant files: `epj tenants validate` refuses an edit that would delete a
provisioned tenant's data, and accepts leaving only as a written, dated record."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from epj.cli import app
from epj.tenants import validate_tenant_dir
from epj.tenants.model import Leaving

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tenants(tmp_path: Path) -> Path:
    folder = tmp_path / "tenants"
    shutil.copytree(REPO / "tenants", folder, ignore=shutil.ignore_patterns("epj"))
    return folder


def _edit(path: Path, **changes: object) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw.update(changes)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


def _validate(folder: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["tenants", "validate", "--dir", str(folder)])
    return result.exit_code, " ".join(result.output.split())  # rich wraps long lines


def test_the_committed_record_lists_exactly_the_active_tenants_of_each_environment() -> None:
    for env in ("test", "prod"):
        raw = yaml.safe_load((REPO / "tenants" / "provisioned" / f"{env}.yaml").read_text(encoding="utf-8"))
        assert raw["environment"] == env
        assert sorted(e["kommunenummer"] for e in raw["tenants"]) == ["5006", "5031", "5035", "5059"]
    assert _validate(REPO / "tenants")[0] == 0


def test_deleting_a_provisioned_tenants_file_is_refused(tenants: Path) -> None:
    (tenants / "5035-stjordal.yaml").unlink()
    code, out = _validate(tenants)
    assert code == 1
    assert "provisioned/prod.yaml" in out and "provisioned/test.yaml" in out
    assert "kommune-5035 is provisioned" in out and "tenant file is gone" in out


def test_removing_prod_from_environments_is_refused(tenants: Path) -> None:
    _edit(tenants / "5031-malvik.yaml", environments=["test"])
    code, out = _validate(tenants)
    assert code == 1
    assert "5031-malvik.yaml: environments" in out
    assert "no longer list prod" in out and "tenant-leaving.md" in out


def test_turning_a_principal_into_an_uncalled_option_is_refused(tenants: Path) -> None:
    _edit(tenants / "5006-steinkjer.yaml", role="option", option_called=False)
    code, out = _validate(tenants)
    assert code == 1
    assert "5006-steinkjer.yaml: option_called" in out
    assert "no longer a principal or a called option" in out


def test_a_written_leaving_record_is_accepted_and_keeps_the_tenant_provisioned(tenants: Path) -> None:
    _edit(
        tenants / "5031-malvik.yaml",
        environments=["test"],
        leaving={"reason": "withdrawn", "decided_on": "2026-11-20", "decision": "Kommunestyret sak 112/26"},
    )
    tenant_set, errors = validate_tenant_dir(tenants)
    assert errors == []
    assert tenant_set.get("5031").leaving is not None


def test_calling_an_option_must_be_recorded_in_the_same_change(tenants: Path) -> None:
    _edit(tenants / "5049-flatanger.yaml", option_called=True)
    code, out = _validate(tenants)
    assert code == 1
    assert "kommune-5049 is active in test but not recorded" in out
    assert "database_storage_gib: 15" in out
    for env in ("test", "prod"):
        record = tenants / "provisioned" / f"{env}.yaml"
        raw = yaml.safe_load(record.read_text(encoding="utf-8"))
        raw["tenants"].append({"kommunenummer": "5049", "since": "2026-12-04", "database_storage_gib": 15})
        record.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert _validate(tenants)[0] == 0


def test_removing_a_line_from_the_record_of_a_live_tenant_is_refused(tenants: Path) -> None:
    record = tenants / "provisioned" / "prod.yaml"
    raw = yaml.safe_load(record.read_text(encoding="utf-8"))
    raw["tenants"] = [e for e in raw["tenants"] if e["kommunenummer"] != "5059"]
    record.write_text(yaml.safe_dump(raw), encoding="utf-8")
    code, out = _validate(tenants)
    assert code == 1 and "kommune-5059 is active in prod but not recorded" in out


def test_lower_sizing_inputs_keep_the_recorded_size_and_higher_ones_must_be_recorded(tenants: Path) -> None:
    path = tenants / "5035-stjordal.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["population"]["inhabitants"] = 9000  # computed 20 GiB < recorded 35 GiB: fine, the record is kept
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert _validate(tenants)[0] == 0
    raw["population"]["inhabitants"] = 41_000  # computed 55 GiB > recorded 35 GiB
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    code, out = _validate(tenants)
    assert code == 1
    assert "grow from 35 to 55 GiB" in out and "database_storage_gib: 55" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"retain_until": "2027-06-01"}, "retain_until needs final_export"),
        (
            {
                "final_export": {"on": "2026-12-01", "receipt": "IKA Trøndelag 2026/9", "sha256": "0" * 64},
                "retain_until": "2027-01-15",
            },
            "at least 90 days after final_export.on (earliest 2027-03-01)",
        ),
        (
            {
                "final_export": {"on": "2026-12-01", "receipt": "IKA Trøndelag 2026/9", "sha256": "0" * 64},
                "retain_until": "2027-03-01",
                "released_on": "2027-02-28",
            },
            "released_on is before retain_until (2027-03-01)",
        ),
        ({"released_on": "2027-02-28"}, "released_on needs final_export and retain_until"),
        ({"final_export": {"on": "2026-01-01", "receipt": "IKA 1/26", "sha256": "0" * 64}}, "before decided_on"),
    ],
)
def test_leaving_stages_come_in_order(extra: dict[str, object], message: str) -> None:
    base = {"reason": "decommissioned", "decided_on": "2026-11-01", "decision": "Kommunestyret sak 99/26"}
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Leaving.model_validate({**base, **extra})


def test_a_leaving_record_needs_a_decision_reference() -> None:
    with pytest.raises(ValidationError, match="decision"):
        Leaving.model_validate({"reason": "withdrawn", "decided_on": "2026-11-01"})
