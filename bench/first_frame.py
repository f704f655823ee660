"""Launch to first frame, and launch to model ready, in a real terminal (tmux).

    .venv/bin/python bench/first_frame.py [--runs 5]

Starts ``ollm`` in a detached 120x40 tmux session with an isolated data dir and polls the
screen every 10 ms: "first frame" is the first capture showing the app's status line,
"ready" the first showing the model as ready. Prints medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OLLM = str(Path(sys.executable).with_name("ollm"))


def capture(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
    ).stdout


def one_run(i: int) -> tuple[float, float]:
    session = f"ollm-bench-{os.getpid()}-{i}"
    tmp = tempfile.mkdtemp()
    env = " ".join(
        f"{k}={v}" for k, v in {
            "OLLM_DATA_DIR": f"{tmp}/data", "OLLM_CONFIG_DIR": f"{tmp}/config", "OLLM_LOG_DIR": f"{tmp}/logs",
        }.items()
    )
    start = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", f"env {env} {OLLM}"], check=True)
    first = ready = None
    try:
        while time.perf_counter() - start < 30:
            screen = capture(session)
            now = time.perf_counter() - start
            if first is None and ("loading" in screen.lower() or "ready" in screen.lower()):
                first = now
            if "ready" in screen.lower():
                ready = now
                break
            time.sleep(0.01)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    if first is None or ready is None:
        raise SystemExit(f"run {i}: the app never showed its status line:\n{screen}")
    return first, ready


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not shutil.which("tmux"):
        raise SystemExit("tmux is needed for this benchmark")
    runs = [one_run(i) for i in range(args.runs)]
    first = statistics.median(r[0] for r in runs)
    ready = statistics.median(r[1] for r in runs)
    print(f"launch -> first frame: {first:.3f} s (median of {args.runs}; goal <= 0.5 s)")
    print(f"launch -> model ready: {ready:.3f} s")
    print(f"first frame / ready: {first / ready:.2f}")


if __name__ == "__main__":
    main()
