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


def _ollm(tmp_path: Path, *args: str) -> dict:
    import os

    env = {**os.environ, "OLLM_THREADS": "1"}
    for var, sub in (
        ("OLLM_DATA_DIR", "data"),
        ("OLLM_CONFIG_DIR", "config"),
        ("OLLM_LOG_DIR", "logs"),
    ):
        env[var] = str(tmp_path / sub)
    for var in ("OLLM_MODEL", "OLLM_TIER", "OLLM_MEMORY_BUDGET", "OLLM_CONTEXT"):
        env.pop(var, None)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ollm_tui",
            *args,
            "-p",
            "Say hi",
            "--output",
            "json",
            "--max-tokens",
            "4",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=True,
    ).stdout
    return json.loads(out)


def test_tier_sets_the_engine_context_and_context_overrides_it(tmp_path: Path) -> None:
    auto = _ollm(tmp_path)
    assert auto["tier"] == "4K" and auto["context_size"] == 3328
    assert "auto takes one step below: 4K" in auto["tier_reason"]
    small = _ollm(tmp_path, "--tier", "2k")
    assert small["tier"] == "2K" and small["context_size"] == 1536
    override = _ollm(tmp_path, "--tier", "2k", "--context", "2048")
    assert override["context_size"] == 2048
    assert override["tier_reason"] == "--context 2048 overrides the 2K tier"


def test_a_chat_keeps_its_tier_across_invocations(tmp_path: Path) -> None:
    first = _ollm(tmp_path, "--chat", "locked", "--tier", "2k")
    assert first["tier"] == "2K" and first["context_size"] == 1536
    again = _ollm(tmp_path, "--chat", "locked")  # no --tier: the chat's tier is kept
    assert again["tier"] == "2K" and again["context_size"] == 1536
    assert again["tier_reason"] == "2K chosen by you (auto would take 4K)"
    other = _ollm(tmp_path, "--chat", "another")
    assert other["tier"] == "4K"
    moved = _ollm(tmp_path, "--chat", "locked", "--tier", "8k")  # the command line wins
    assert moved["tier"] == "8K" and moved["context_size"] == 6912
