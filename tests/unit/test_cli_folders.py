"""Unusable data folders from the command line: one clear line, exit code 5, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.unit.cli_run import run_ollm


@pytest.mark.parametrize("args", [("export", "c1"), ("-p", "hi", "--chat", "c1")])
def test_a_file_in_place_of_the_data_folder(tmp_path: Path, args: tuple[str, ...]) -> None:
    data = tmp_path / "data"
    data.write_text("a file")
    result = run_ollm(tmp_path, *args, data=data)
    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr
    line = [ln for ln in result.stderr.splitlines() if ln.startswith("ollm: cannot use")]
    assert line and str(data) in line[0] and "move that file away" in line[0]


def _mount(tmp_path: Path, options: str) -> Path:
    point = tmp_path / "mnt"
    point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a small file system here")
    return point


def test_a_read_only_file_system(tmp_path: Path) -> None:
    point = _mount(tmp_path, "ro,size=1m")
    try:
        result = run_ollm(
            tmp_path, "-p", "hi", "--chat", "c1", "--max-tokens", "4", data=point / "data"
        )
        assert result.returncode == 5, result.stderr
        assert "Traceback" not in result.stderr and "read-only" in result.stderr
    finally:
        subprocess.run(["umount", str(point)])


def test_doctor_reports_a_damaged_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "ollm.db").write_bytes(b"garbage" * 1000)
    result = run_ollm(tmp_path, "doctor", "--json", data=data)
    assert result.returncode == 0, result.stderr
    import json

    db = json.loads(result.stdout)["database"]
    assert db["state"] == "damaged" and "set it aside" in db["advice"]
    assert (data / "ollm.db").read_bytes() == b"garbage" * 1000  # nothing changed
