"""Running ``python -m ollm_tui`` in a subprocess with its own data, config and log folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_ollm(
    tmp_path: Path,
    *args: str,
    data: Path | None = None,
    config: Path | None = None,
    logs: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``ollm ARGS`` with its data, config and log folders (each under ``tmp_path`` unless
    given), no standard input; the output captured as text."""
    env = {
        **os.environ,
        "OLLM_DATA_DIR": str(data or tmp_path / "data"),
        "OLLM_CONFIG_DIR": str(config or tmp_path / "config"),
        "OLLM_LOG_DIR": str(logs or tmp_path / "logs"),
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
