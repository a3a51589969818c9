"""A password with a raw '%' (libpq quotes the whole bad token in its error) never reaches a message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.migration.targets import check_dsn


@pytest.mark.parametrize("secret", ["s3cr%zz", "s3cr%", "p%s", "s3cr%00t"])
def test_check_dsn_refuses_a_bad_percent_escape_without_echoing_it(secret: str) -> None:
    with pytest.raises(ValueError, match="%25") as refused:
        check_dsn(f"postgresql://epj:{secret}@127.0.0.1:5432/epj")
    assert "s3cr" not in str(refused.value) and secret not in str(refused.value)


def test_check_dsn_accepts_percent_encoded_passwords() -> None:
    check_dsn("postgresql://epj:p%40s%25s@127.0.0.1:5432/epj")


@pytest.mark.parametrize("command", ["run", "seal"])
def test_migrate_commands_never_print_the_password(command: str, tmp_path: Path) -> None:
    url = "postgresql://epj:s3cr%zz@127.0.0.1:1/epj"
    if command == "run":
        extract = tmp_path / "x"
        extract.mkdir()
        (extract / "UTTREKK.txt").write_text("kommunenr=5035\nuttrekkstidspunkt=2026-03-01T02:00:00\n")
        args = ["migrate", "run", str(extract), "--target", url, "--out", str(tmp_path / "rep"), "--tenant", "5035"]
    else:
        args = ["migrate", "seal", "--tenant", "5035", "--dsn", url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "s3cr" not in result.output
    assert "%25" in result.output
    assert not (tmp_path / "rep").exists()


@pytest.mark.parametrize("scale", ["nan", "inf", "-inf"])
def test_generate_refuses_a_scale_that_is_not_a_finite_number(scale: str, tmp_path: Path) -> None:
    out = tmp_path / "x"
    result = CliRunner().invoke(app, ["migrate", "generate", "--tenant", "5035", "--scale", scale, "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith("error: --scale")
    assert "Traceback" not in result.output and "unexpected" not in result.output
    assert not out.exists()
