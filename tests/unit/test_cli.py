"""The command line without loading a model: arguments, exit codes, `ollm models`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ollm_tui.cli import main
from ollm_tui.cli.common import EXIT_MODEL, EXIT_USAGE


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var, sub in (
        ("OLLM_DATA_DIR", "data"),
        ("OLLM_CONFIG_DIR", "config"),
        ("OLLM_LOG_DIR", "logs"),
    ):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.delenv("OLLM_MODEL", raising=False)
    return tmp_path


def test_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ollm_tui", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("ollm_tui ")
    assert "llama-cpp-python" in out.stdout


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--threads", "zero", "-p", "x"], "--threads"),
        (["--context", "huge", "-p", "x"], "--context"),
        (["--temperature", "9", "-p", "x"], "--temperature"),
        (["--chat", "x"], "only works with -p"),
        (["--output", "json"], "only works with -p"),
    ],
)
def test_bad_arguments_exit_2(argv, needle, capsys) -> None:
    assert main(argv) == EXIT_USAGE
    assert needle in capsys.readouterr().err


def test_argparse_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--output", "yaml", "-p", "x"])
    assert exc.value.code == EXIT_USAGE


def test_empty_prompt_exits_2(capsys) -> None:
    assert main(["-p", "   "]) == EXIT_USAGE
    assert "empty" in capsys.readouterr().err


def test_unknown_model_name_exits_3_and_lists_models(capsys) -> None:
    assert main(["--model", "no-such-model", "-p", "hi"]) == EXIT_MODEL
    err = capsys.readouterr().err
    assert "no-such-model" in err and "SmolLM2-135M-Instruct.Q4_1" in err


def test_missing_path_exits_3(capsys, tmp_path: Path) -> None:
    assert main(["--model", str(tmp_path / "gone.gguf"), "-p", "hi"]) == EXIT_MODEL
    assert "gone.gguf" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content", [b"just some text\n" * 100, b"GGUF\x03\x00\x00\x00" + b"\x00" * 10]
)
def test_not_gguf_or_truncated_exits_3(content, capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    assert main(["--model", str(bad), "-p", "hi"]) == EXIT_MODEL
    err = capsys.readouterr().err
    assert "bad.gguf" in err
    assert "Traceback" not in err


def test_models_json_lists_both_test_models(capsys) -> None:
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in rows}
    smol = by_name["SmolLM2-135M-Instruct.Q4_1"]
    assert smol["architecture"] == "llama" and smol["chat_template"] is True
    assert smol["quantization"] == "Q4_1" and smol["context_length"] == 8192
    gemma = by_name["gemma-3-270m-q4_k_m"]
    assert gemma["architecture"] == "gemma3" and gemma["chat_template"] is False


def test_models_table_reports_unusable_files(capsys, isolated: Path) -> None:
    models = isolated / "data" / "models"
    models.mkdir(parents=True)
    (models / "junk.gguf").write_text("not a model")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "NAME" in out and "SmolLM2-135M-Instruct.Q4_1" in out
    assert "unusable:" in out and "junk.gguf" in out


def test_app_refuses_without_a_terminal() -> None:
    env = {**os.environ}
    out = subprocess.run(
        [sys.executable, "-m", "ollm_tui"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert out.returncode == EXIT_USAGE
    assert "needs a terminal" in out.stderr
