"""The memory plan against reality: the starter model on the CPU at each offered size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "memory_plan.py"


def test_plan_is_within_25_percent_of_measured_rss_growth() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--model", "starter", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    ).stdout
    rows = json.loads(out)
    assert [r["size"] for r in rows] == ["2K", "4K", "8K"]
    for r in rows:
        assert 0.75 <= r["ratio"] <= 1.25, r
    # the KV cache is what grows with the size: the plan must see the growth too
    assert rows[-1]["measured"] > rows[0]["measured"] + 80 * 2**20
