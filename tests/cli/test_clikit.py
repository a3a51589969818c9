"""The shared pieces every command uses: checks, the staged output folder, the one-line messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from epj.clikit import (
    BadInput,
    check_date,
    check_dsn,
    check_namespace,
    check_period,
    check_positive,
    mask_dsn,
    staged_dir,
)


def test_a_failed_command_leaves_its_output_folder_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), staged_dir(out) as scratch:
        (scratch / "plan.json").write_text("{}", encoding="utf-8")
        raise RuntimeError("solver crashed half-way")
    assert list(tmp_path.iterdir()) == []  # not even an empty folder, no scratch left

    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    (out / "plan.json").write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), staged_dir(out) as scratch:
        (scratch / "plan.json").write_text("new", encoding="utf-8")
        raise RuntimeError("later step failed")
    assert (out / "plan.json").read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_successful_command_replaces_its_files_and_owned_folders(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "rules").mkdir(parents=True)
    (out / "rules" / "retired.yml").write_text("stale", encoding="utf-8")
    (out / "notes.md").write_text("the user's own", encoding="utf-8")
    with staged_dir(out, owned=("rules",)) as scratch:
        (scratch / "rules").mkdir()
        (scratch / "rules" / "platform.yml").write_text("groups: []", encoding="utf-8")
        (scratch / "summary.md").write_text("new", encoding="utf-8")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "notes.md", "rules", "rules/platform.yml", "summary.md",
    ]  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_output_path_that_is_a_file_is_refused_before_anything_happens(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x", encoding="utf-8")
    with pytest.raises(BadInput, match="is an existing file"), staged_dir(tmp_path / "f"):
        raise AssertionError("never reached")


@pytest.mark.parametrize(
    ("value", "ok"),
    [("2027-03", True), ("2027-12", True), ("2027-13", False), ("2027-00", False), ("banana", False),
     ("2027-3", False), ("27-03", False)],
)  # fmt: skip
def test_period(value: str, ok: bool) -> None:
    if ok:
        assert check_period(value) == value
    else:
        with pytest.raises(BadInput, match="is not a month; give YYYY-MM"):
            check_period(value)


def test_dates_that_do_not_exist_are_refused() -> None:
    assert check_date("2028-02-29", "--today") == dt.date(2028, 2, 29)
    for bad in ("2030-02-30", "2027-13-01", "tomorrow"):
        with pytest.raises(BadInput, match="is not a date"):
            check_date(bad, "--today")


@pytest.mark.parametrize("name", ["Bad_NS!", "UPPER", "-lead", "trail-", "a" * 64, ""])
def test_namespaces_follow_rfc1123(name: str) -> None:
    with pytest.raises(BadInput, match="not a valid Kubernetes namespace"):
        check_namespace(name)
    assert check_namespace("kommune-5035") == "kommune-5035"


def test_database_addresses_never_show_the_password() -> None:
    assert mask_dsn("postgresql://epj:s3cret@db:5432/epj") == "postgresql://epj:***@db:5432/epj"
    with pytest.raises(BadInput) as refused:
        check_dsn("mysql://epj:s3cret@db/epj")
    assert "s3cret" not in refused.value.format_message()
    with pytest.raises(BadInput, match="percent-encode it as %40") as at_sign:
        check_dsn("postgresql://epj:p@ss@db:5432/epj")
    assert "p@ss" not in at_sign.value.format_message()


@pytest.mark.parametrize("secret", ["s3cr%zz", "s3cr%", "p%s", "s3cr%00t"])
def test_a_password_with_a_raw_percent_is_refused_without_showing_it(secret: str) -> None:
    # libpq's own message for a bad %-escape quotes the whole token, i.e. the password
    with pytest.raises(BadInput, match="%25") as refused:
        check_dsn(f"postgresql://epj:{secret}@db:5432/epj")
    assert secret not in refused.value.format_message()
    assert "s3cr" not in refused.value.format_message()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("allow_zero", [False, True])
def test_numbers_that_are_not_finite_are_refused(value: float, allow_zero: bool) -> None:
    # `--scale nan` ended in "cannot convert float NaN to integer", `--scale inf` in "unexpected OverflowError"
    with pytest.raises(BadInput, match="is not allowed"):
        check_positive(value, "--scale", allow_zero=allow_zero)
    check_positive(0.5, "--scale")
