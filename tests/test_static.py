"""Static checks run as part of the test command: ruff, mypy --strict and the layering contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SOURCE_DIRS = ["tenants", "infra", "operator", "migration", "monitoring", "runbooks", "tests"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)


@pytest.mark.xdist_group("static")
def test_ruff_clean() -> None:
    result = _run(str(BIN / "ruff"), "check", *SOURCE_DIRS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.xdist_group("static")
def test_ruff_format_clean() -> None:
    result = _run(str(BIN / "ruff"), "format", "--check", *SOURCE_DIRS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.xdist_group("static")
def test_mypy_strict_clean() -> None:
    # Paths, not `-p epj`: mypy does not gather a namespace package split over several folders.
    result = _run(str(BIN / "mypy"), *(f"{folder}/epj" for folder in SOURCE_DIRS if folder != "tests"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.xdist_group("static")
def test_domain_core_imports_no_adapter() -> None:
    result = _run(str(BIN / "lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_package_shadows_the_standard_library() -> None:
    for folder in SOURCE_DIRS:
        for name in ("operator", "platform"):
            assert not (REPO_ROOT / folder / f"{name}.py").exists()
            assert not (REPO_ROOT / folder / name / "__init__.py").exists()
    import operator
    import platform

    assert "site-packages" not in (operator.__file__ or "") and str(REPO_ROOT) not in (operator.__file__ or "")
    assert str(REPO_ROOT) not in (platform.__file__ or "")
