"""Permission denied on the data folder, for real: ``ollm -p hi --chat c1`` run as an
unprivileged user (``setpriv``, uid/gid 65534) on a data folder owned by root with mode
700 ends in one ``ollm:`` line naming the folder, exit code 5, and no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_server import FakeServer

NOBODY = 65534


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder every user can enter (pytest's own tmp folders are root's, mode 700)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a command as another user")
    path = Path(tempfile.mkdtemp(prefix="ollm-perm-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def as_nobody(base: Path, *args: str, data: Path) -> subprocess.CompletedProcess[str]:
    own = base / "own"  # the config and log folders that user may use
    own.mkdir()
    os.chown(own, NOBODY, NOBODY)
    env = {
        **os.environ,
        "HOME": str(own),
        "OLLM_DATA_DIR": str(data),
        "OLLM_CONFIG_DIR": str(own / "config"),
        "OLLM_LOG_DIR": str(own / "logs"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run(
        [*command, sys.executable, "-m", "ollm_tui", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )


def test_a_data_folder_this_user_may_not_write(base: Path) -> None:
    data = base / "data"
    data.mkdir(mode=0o700)  # root's
    with FakeServer() as server:
        result = as_nobody(base, "-p", "hi", "--chat", "c1", "--server", server.url, data=data)
    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("ollm: ")]
    assert len(lines) == 1, result.stderr
    assert str(data) in lines[0] and "permission denied" in lines[0]
    assert "make it writable for this user" in lines[0]
    assert list(data.iterdir()) == []
