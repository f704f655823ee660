"""Launch to first frame, and launch to model ready, in a real terminal (tmux).

    .venv/bin/python bench/first_frame.py [--runs 5]

Starts ``ollm`` in a detached 120x40 tmux session with an isolated data dir and polls the
screen every 10 ms: "first frame" is the first capture showing the app's status line,
"ready" the first showing the model as ready. Prints medians. The baseline, measured the
same way, is a minimal Textual app (one ``Static``): the floor Textual itself sets.

The app's modules are byte-compiled first, as an installed wheel's are: with
``PYTHONDONTWRITEBYTECODE`` set (some shells and CI set it) an editable checkout would
otherwise compile every module from source at each launch, ~0.15 s the Textual baseline
(whose site-packages are compiled) never pays.
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
from collections.abc import Callable
from pathlib import Path

OLLM = str(Path(sys.executable).with_name("ollm"))

MINIMAL_APP = (
    "from textual.app import App\n"
    "from textual.widgets import Static\n"
    "class Hello(App):\n"
    "    def compose(self):\n"
    "        yield Static('hello ready')\n"
    "Hello().run()\n"
)


def capture(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False
    ).stdout


def isolated_env(tmp: str) -> str:
    """``env`` arguments giving the app its own data, config and log dirs."""
    return " ".join(
        f"{k}={v}"
        for k, v in {
            "OLLM_DATA_DIR": f"{tmp}/data",
            "OLLM_CONFIG_DIR": f"{tmp}/config",
            "OLLM_LOG_DIR": f"{tmp}/logs",
        }.items()
    )


def new_tmux_session(
    session: str,
    command: str,
    size: tuple[int, int] = (120, 40),
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Start ``command`` in a detached tmux session of ``size``; returns ``clock()`` just
    before the launch that worked (tmux may still be shutting its server down after the
    last run, so a failed launch is tried again)."""
    for attempt in range(5):
        start = clock()
        launched = subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                str(size[0]),
                "-y",
                str(size[1]),
                command,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if launched.returncode == 0:
            return start
        time.sleep(0.2 * (attempt + 1))
    raise SystemExit(f"tmux could not start a session: {launched.stderr.strip()}")


def run_in_tmux(
    command: str, session: str, on_ready: Callable[[str], None] | None = None, timeout: float = 60
) -> tuple[float, float]:
    """Seconds from launch to the first frame and to "ready" on screen. ``on_ready`` is
    called with the session name while the app still runs (e.g. to read its memory)."""
    start = new_tmux_session(session, command)
    first = ready = None
    screen = ""
    try:
        while time.perf_counter() - start < timeout:
            screen = capture(session)
            now = time.perf_counter() - start
            if first is None and ("loading" in screen.lower() or "ready" in screen.lower()):
                first = now
            if "ready" in screen.lower():
                ready = now
                break
            time.sleep(0.01)
        if ready is not None and on_ready is not None:
            on_ready(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
    if first is None or ready is None:
        raise SystemExit(f"{command}: never showed its status line:\n{screen}")
    return first, ready


def one_run(i: int, on_ready: Callable[[str], None] | None = None) -> tuple[float, float]:
    """One launch of ``ollm`` with fresh data dirs."""
    tmp = tempfile.mkdtemp()
    try:
        return run_in_tmux(
            f"env {isolated_env(tmp)} {OLLM}", f"ollm-bench-{os.getpid()}-{i}", on_ready
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def minimal_run(i: int) -> float:
    """First frame of a one-widget Textual app."""
    tmp = tempfile.mkdtemp()
    script = Path(tmp) / "hello.py"
    script.write_text(MINIMAL_APP)
    try:
        return run_in_tmux(f"{sys.executable} {script}", f"textual-bench-{os.getpid()}-{i}")[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def byte_compile() -> None:
    """Compile the app's modules (see the module docstring); quiet, and harmless if done."""
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "ollm_tui"), quiet=1)


def measure(runs: int = 5) -> tuple[float, float, float]:
    """Medians: ollm's first frame, ollm's model ready, the minimal app's first frame."""
    if not shutil.which("tmux"):
        raise SystemExit("tmux is needed for this benchmark")
    byte_compile()
    results = []
    baseline = []
    for i in range(runs):  # alternate, so both see the same machine load
        results.append(one_run(i))
        baseline.append(minimal_run(i))
    first = statistics.median(r[0] for r in results)
    ready = statistics.median(r[1] for r in results)
    return first, ready, statistics.median(baseline)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    first, ready, minimal = measure(args.runs)
    print(f"launch -> first frame: {first:.3f} s (median of {args.runs}; goal <= 0.5 s)")
    print(f"launch -> model ready: {ready:.3f} s")
    print(f"minimal Textual app first frame: {minimal:.3f} s")


if __name__ == "__main__":
    main()
