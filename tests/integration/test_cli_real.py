"""`ollm -p` end to end on the real starter model, in a subprocess like a script would."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ollm_tui.settings import Settings


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {**os.environ}
    e.update(
        OLLM_DATA_DIR=str(tmp_path / "data"),
        OLLM_CONFIG_DIR=str(tmp_path / "config"),
        OLLM_LOG_DIR=str(tmp_path / "logs"),
        OLLM_THREADS="1",
    )
    e.pop("OLLM_MODEL", None)
    return e


def ollm(env, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ollm_tui", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=180,
    )


def test_prompt_text_mode_answers_paris(env) -> None:
    out = ollm(env, "-p", "What is the capital of France?", "--temperature", "0")
    assert out.returncode == 0, out.stderr
    assert "Paris" in out.stdout
    assert out.stderr == ""  # llama.cpp's logs went to the log file, not the terminal
    log = Path(env["OLLM_LOG_DIR"]) / "ollm.log"
    assert "llama" in log.read_text()


def test_prompt_json_mode_reports_figures(env) -> None:
    out = ollm(
        env, "-p", "-", "--output", "json", "--seed", "7", "--max-tokens", "40", stdin="Say hi."
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert data["reply"].strip()
    assert data["prompt_tokens"] > 5 and 1 <= data["completion_tokens"] <= 40
    assert data["time_to_first_token_s"] > 0 and data["tokens_per_s"] > 0
    assert data["finish_reason"] in ("stop", "length")
    assert data["chat"] is None
    assert not (Path(env["OLLM_DATA_DIR"]) / "ollm.db").exists()  # a one-off turn is not saved
    ctx = data["context"]
    assert (
        ctx["messages"] == 3 and ctx["limit"] == data["context_size"]
    )  # the tier's effective limit
    assert (
        ctx["used"]
        == ctx["tokens"] - ctx["system_tokens"]
        > data["prompt_tokens"] - ctx["system_tokens"]
    )
    assert ctx["reply_reserve"] == min(1024, ctx["limit"] // 4)
    assert ctx["budget"] == ctx["limit"] - ctx["system_tokens"] - ctx["reply_reserve"]


def test_json_token_figures_are_exact(env, smollm) -> None:
    out = ollm(
        env, "-p", "Name three colours.", "--output", "json", "--max-tokens", "24", "--seed", "1"
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    system = {"role": "system", "content": Settings.from_env(env).system_prompt}
    user = {"role": "user", "content": "Name three colours."}
    assert data["prompt_tokens"] == smollm.count_prompt_tokens([system, user])
    after = [system, user, {"role": "assistant", "content": data["reply"]}]
    assert data["context"]["tokens"] == smollm.count_prompt_tokens(after)


def test_chat_continues_across_invocations(env) -> None:
    first = ollm(env, "--chat", "trip", "-p", "My name is Ada. Remember it.", "--output", "json")
    assert first.returncode == 0, first.stderr
    second = ollm(env, "--chat", "trip", "-p", "What is my name?", "--output", "json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["prompt_tokens"] > json.loads(first.stdout)["prompt_tokens"]
    db = sqlite3.connect(Path(env["OLLM_DATA_DIR"]) / "ollm.db")
    rows = db.execute(
        "SELECT role, content FROM messages JOIN chats ON chats.id = chat_id "
        "WHERE chats.title = 'trip' ORDER BY seq"
    ).fetchall()
    assert [r[0] for r in rows] == ["user", "assistant", "user", "assistant"]
    assert rows[0][1] == "My name is Ada. Remember it."
    # the first run saved the chat's KV state, the second restored it instead of prefilling
    assert len(list((Path(env["OLLM_DATA_DIR"]) / "kv").glob("*.kvstate"))) == 1
    log = (Path(env["OLLM_LOG_DIR"]) / "ollm.log").read_text()
    assert "KV before turn of chat 1: cold" in log and "KV before turn of chat 1: restored" in log


def test_gemma_by_name_through_its_profile(env) -> None:
    out = ollm(env, "--model", "gemma", "-p", "Hello", "--max-tokens", "16", "--output", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["model"] == "gemma-3-270m-q4_k_m"
    assert "note:" in out.stderr and "gemma" in out.stderr  # the format choice is announced


def test_message_too_long_exits_4(env) -> None:
    out = ollm(env, "--context", "512", "-p", "word " * 2000)
    assert out.returncode == 4
    assert "tokens" in out.stderr and "Traceback" not in out.stderr


def test_scripted_long_chat_compresses_and_reports_it(env) -> None:
    paragraph = (
        "Dana keeps the build notes in docs/build_notes.md; step 42 needs run_checks() and "
        "the flag MAX_JOBS set to 8. "
    ) * 12
    runs = []
    for i in range(4):
        out = ollm(
            env,
            "--tier",
            "2k",
            "--chat",
            "long",
            "-p",
            f"Part {i}. {paragraph}",
            "--max-tokens",
            "16",
            "--temperature",
            "0",
            "--output",
            "json",
        )
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout))
    for data in runs:
        usage = data["usage"]
        assert set(usage) == {"used", "budget", "percent"}
        assert usage["used"] <= usage["budget"]
    assert runs[0]["compressed"] is False and runs[0]["checkpoints"] == 0
    assert any(d["compressed"] for d in runs) and runs[-1]["checkpoints"] >= 1
    db = sqlite3.connect(Path(env["OLLM_DATA_DIR"]) / "ollm.db")
    assert db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0] >= 1
    assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 8  # nothing lost


def test_prompt_to_a_terminal_on_the_real_model(env) -> None:
    """Standard output on a pty: the reply arrives through the display sanitiser (nothing a
    model writes can be a control sequence there) and still answers."""
    from tests.unit.test_cli_terminal_output import run_on_pty
    from tests.unit.test_display import assert_terminal_safe

    code, out, err = run_on_pty(env, "-p", "What is the capital of France?", "--temperature", "0")
    assert code == 0, err
    text = out.decode()
    assert "Paris" in text
    assert_terminal_safe(text)
