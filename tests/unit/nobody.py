"""Running ``ollm`` as an unprivileged user (``setpriv``, uid/gid 65534), for real
permission-denied cases: the tests run as root, where no mode bit stops a read."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

NOBODY = 65534


@pytest.fixture
def nobody_base() -> Iterator[Path]:
    """A folder every user can enter (pytest's own tmp folders are root's, mode 700)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a command as another user")
    path = Path(tempfile.mkdtemp(prefix="ollm-perm-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def as_nobody(
    base: Path, *args: str, data: Path, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    own = base / "own"  # the config and log folders that user may use
    own.mkdir(exist_ok=True)
    os.chown(own, NOBODY, NOBODY)
    env = {
        **os.environ,
        "HOME": str(own),
        "OLLM_DATA_DIR": str(data),
        "OLLM_CONFIG_DIR": str(config or own / "config"),
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
