"""The app in a real terminal (tmux): launch to first frame, and idle memory.

.venv/bin/python -m bench --only first_frame,idle_rss
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import first_frame
from bench.common import Line

MIB = 1024**2


def first_frame_line(runs: int = 5) -> Line:
    """Median launch to first frame against a one-widget Textual app, in the same run."""
    first, ready, minimal = first_frame.measure(runs)
    return Line(
        "launch to first frame",
        first,
        minimal,
        first / minimal,
        "measured <= 0.5 s",
        first <= 0.5,
        "s",
        f"median of {runs} in tmux; model ready at {ready:.2f} s; baseline: minimal Textual app",
    )


def _app_pid(session: str) -> int:
    import psutil

    pane = int(
        subprocess.run(
            ["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[0]
    )
    procs = [psutil.Process(pane), *psutil.Process(pane).children(recursive=True)]
    pythons = [p for p in procs if "python" in p.name().lower() or "ollm" in " ".join(p.cmdline())]
    return max(pythons or procs, key=lambda p: p.memory_info().rss).pid


def idle_rss(settle_s: float = 3.0, samples: int = 3) -> Line:
    """Resident memory of the idle app with the starter model loaded, minus what the memory
    plan expects the model and its KV cache to take."""
    import psutil

    from ollm_tui.core.gguf_info import read_gguf_info
    from ollm_tui.engine.planning import load_all_profiles, place
    from ollm_tui.engine.registry import starter_model_path
    from ollm_tui.settings import Settings

    rss: list[int] = []

    def read(session: str) -> None:
        time.sleep(settle_s)
        pid = _app_pid(session)
        for _ in range(samples):
            rss.append(psutil.Process(pid).memory_info().rss)
            time.sleep(0.5)

    tmp = tempfile.mkdtemp()
    try:
        first_frame.run_in_tmux(
            f"env {first_frame.isolated_env(tmp)} {first_frame.OLLM}",
            f"ollm-rss-{time.time_ns()}",
            read,
        )
        settings = Settings.from_env(
            {
                "OLLM_DATA_DIR": f"{tmp}/data",
                "OLLM_CONFIG_DIR": f"{tmp}/config",
                "OLLM_LOG_DIR": f"{tmp}/logs",
                "OLLM_SCAN_EXTERNAL": "0",
            }
        )
        path = starter_model_path()
        assert path is not None
        placement = place(settings, read_gguf_info(path), profiles=load_all_profiles(settings))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    plan = placement.plan.chosen.plan
    model_kv = plan.weights + plan.kv
    measured = statistics.median(rss)
    extra = (measured - model_kv) / MIB
    return Line(
        "idle RSS minus model+KV plan",
        extra,
        model_kv / MIB,
        measured / model_kv,
        "measured <= 150 MB",
        extra <= 150,
        "MiB",
        f"RSS {measured / MIB:.0f} MiB at n_ctx {plan.n_ctx}; "
        f"plan: weights {plan.weights / MIB:.0f} MiB "
        f"+ KV {plan.kv / MIB:.0f} MiB (the plan's runtime estimate, "
        f"{plan.runtime / MIB:.0f} MiB, is not subtracted)",
    )


if __name__ == "__main__":
    print(first_frame_line(3))
    print(idle_rss())
