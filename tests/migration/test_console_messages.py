"""Silent trouble in migration output (issue 18): warnings on the console, header problems that show
what was found, plain messages for unknown tenants — never a national id, name or note in any of them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from epj.cli import app

from .extract_kit import FNR_A, barn, barn_xml, bruker, national_id, write_extract

runner = CliRunner()


def test_all_national_ids_dropped_does_not_read_as_plain_complete(tmp_path: Path) -> None:
    import datetime as dt

    ids = [national_id(dt.date(1950, 1, 1), 100 + i) for i in range(3)]  # synthetic: invalid in production
    extract = write_extract(
        tmp_path / "x", profil={"BRUKER": [bruker(bid=str(i + 1), fnr=n) for i, n in enumerate(ids)]}
    )
    result = runner.invoke(app, ["migrate", "run", str(extract), "--dry-run", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("kommune 5035: complete with 3 warnings; 3 resources, 0 records quarantined")
    assert "warning INVALID_NATIONAL_ID: 3 (national id not valid: migrated without it)" in result.stdout
    assert "every one of the 3 migrated patient records has no national id" in result.stdout
    assert "--synthetic-ids" in result.stdout
    for number in ids:
        assert number not in result.output


def test_a_clean_run_says_complete_without_warnings(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "x", profil={"BRUKER": [bruker(bid="1", fnr=FNR_A)]})
    result = runner.invoke(
        app, ["migrate", "run", str(extract), "--dry-run", "--synthetic-ids", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"kommune 5035: complete; 1 resources, 0 records quarantined; report in {tmp_path / 'r'}"
    ]


def test_some_missing_ids_are_listed_but_not_called_all(tmp_path: Path) -> None:
    extract = write_extract(
        tmp_path / "x",
        profil={"BRUKER": [bruker(bid="1", fnr=FNR_A)]},
        cgm=barn_xml(barn("H1", fnr=None)),
    )
    result = runner.invoke(
        app, ["migrate", "run", str(extract), "--dry-run", "--synthetic-ids", "--out", str(tmp_path / "r")]
    )
    assert "complete with 1 warnings" in result.stdout
    assert "warning MISSING_NATIONAL_ID: 1 (migrated without a national id)" in result.stdout
    assert "every one of" not in result.stdout


def test_header_problem_shows_found_and_expected_columns(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "x", profil={"BRUKER": [bruker(bid="1")]})
    path = extract / "profil" / "BRUKER.csv"
    lines = path.read_bytes().split(b"\r\n")
    header = lines[0].split(b";")
    header[2], header[3] = header[3], header[2]  # Etternavn and Fornavn swapped
    path.write_bytes(b"\r\n".join([b";".join(header), *lines[1:]]))
    result = runner.invoke(app, ["migrate", "run", str(extract), "--dry-run", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "HEADER_MISMATCH" in result.output
    assert "BrukerID;Fodselsnummer;Etternavn;Fornavn;" in result.output  # expected
    assert "found 12 columns: BrukerID;Fodselsnummer;Fornavn;Etternavn;" in result.output  # found
    assert "the same columns in another order" in result.output


def test_a_missing_header_line_is_named_without_echoing_the_data_line(tmp_path: Path) -> None:
    extract = write_extract(
        tmp_path / "x", profil={"BRUKER": [bruker(bid="1", etternavn="Sæther", fornavn="Åse")]}, count_override={}
    )
    path = extract / "profil" / "BRUKER.csv"
    path.write_bytes(path.read_bytes().split(b"\r\n", 1)[1])  # header line gone
    result = runner.invoke(app, ["migrate", "run", str(extract), "--dry-run", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "looks like data: is the header line missing?" in result.output
    assert "<field 2: not a column name>" in result.output
    for secret in ("Sæther", "Åse", FNR_A):
        assert secret not in result.output


def test_generate_for_an_unknown_kommunenr_is_a_plain_message(tmp_path: Path) -> None:
    result = runner.invoke(app, ["migrate", "generate", "--out", str(tmp_path / "g"), "--tenant", "9999"])
    assert result.exit_code == 2
    assert "9999 is not a tenant" in result.output and "5035 Stjørdal" in result.output
    assert "population" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "g").exists()
