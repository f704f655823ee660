"""The static checks run as tests, so the README's test command (``bash .ci/bootstrap test``)
and CI run them and count them in pytest's closing line: ``ruff check``, ``ruff format --check``
and mypy on the headless packages. The import contract is in ``test_import_contract.py``.

Each runs the tool of this virtual environment in a subprocess, from the repository root, with
the configuration in ``pyproject.toml``; a failure prints the tool's own report and the command
that fixes or repeats it. ``-m "not checks"`` leaves them out of a quick run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.checks


def run_tool(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` with this interpreter, in the repository root."""
    if shutil.which(module, path=str(Path(sys.executable).parent)) is None:
        pytest.fail(f"{module} is missing: it comes with the test extras (bash .ci/bootstrap test)")
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ruff_check() -> None:
    out = run_tool("ruff", "check", "--output-format", "concise", ".")
    assert out.returncode == 0, (
        "ruff check found problems (`.venv/bin/ruff check --fix .` fixes the marked ones):\n"
        + out.stdout
        + out.stderr
    )


def test_ruff_format() -> None:
    out = run_tool("ruff", "format", "--check", ".")
    assert out.returncode == 0, (
        "files need formatting (`.venv/bin/ruff format .` formats them):\n"
        + out.stdout
        + out.stderr
    )


def test_mypy_on_the_headless_packages() -> None:
    # the packages are listed in [tool.mypy] files; the cache keeps a repeat run near 1 s
    out = run_tool("mypy")
    assert out.returncode == 0, (
        "mypy found type errors in the headless packages (repeat: `.venv/bin/mypy`):\n"
        + out.stdout
        + out.stderr
    )


# -- each check can fail: the same configuration on a planted problem ------------------------


def test_the_checks_fail_on_planted_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os, sys\ndef f(x, y = 1):\n    return x+y  # type: ignore\n")
    config = str(ROOT / "pyproject.toml")
    lint = run_tool("ruff", "check", "--config", config, "--no-cache", str(bad))
    assert lint.returncode == 1 and "E401" in lint.stdout and "PGH003" in lint.stdout, lint.stdout
    form = run_tool("ruff", "format", "--config", config, "--check", "--no-cache", str(bad))
    assert form.returncode == 1, form.stdout
    types = run_tool(
        "mypy", "--config-file", config, "--cache-dir", str(tmp_path / "cache"), str(bad)
    )
    assert types.returncode == 1 and "no-untyped-def" in types.stdout, types.stdout
    assert "unused-ignore" in types.stdout or "Unused" in types.stdout, types.stdout
