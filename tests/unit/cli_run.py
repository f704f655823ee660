"""Running ``python -m ollm_tui`` in a subprocess with its own data, config and log folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_ollm(tmp_path: Path, *args: str, data: Path) -> subprocess.CompletedProcess[str]:
    """``ollm ARGS`` with ``data`` as the data folder (config and logs under ``tmp_path``),
    no standard input; the output captured as text."""
    env = {
        **os.environ,
        "OLLM_DATA_DIR": str(data),
        "OLLM_CONFIG_DIR": str(tmp_path / "config"),
        "OLLM_LOG_DIR": str(tmp_path / "logs"),
    }
    return subprocess.run(
        [sys.executable, "-m", "ollm_tui", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
