"""``ollm -p`` through the composition root, on the fake engine (no inference): what it
builds, what it saves, and what it prints. The real model's run is in
tests/integration/test_cli_real.py."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import ollm_tui.cli.chat
from ollm_tui.cli import main
from ollm_tui.cli.common import EXIT_MODEL, EXIT_OK
from tests.fakes import FakeEngine


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


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> list[FakeEngine]:
    """Every engine the composition root builds: a fake one each time."""
    built: list[FakeEngine] = []

    def make_engine(settings, lazy=False):
        assert lazy is False  # `-p` loads at once
        built.append(FakeEngine(reply="Hello there."))
        return built[-1], ()

    monkeypatch.setattr(ollm_tui.cli.chat, "make_engine", make_engine)
    return built


def test_one_off_json_turn_is_not_saved_and_closes_the_engine(engines, isolated, capsys) -> None:
    assert main(["-p", "hi", "--output", "json", "--max-tokens", "8"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["reply"] == "Hello there." and data["chat"] is None
    assert data["completion_tokens"] == 2 and data["finish_reason"] == "stop"
    assert data["tier"] is not None and data["compressed"] is False
    assert not (isolated / "data" / "ollm.db").exists()  # an in-memory database
    assert len(engines) == 1 and engines[0].closed == 1


def test_text_turn_streams_the_reply(engines, capsys) -> None:
    assert main(["-p", "hi"]) == EXIT_OK
    assert capsys.readouterr().out == "Hello there.\n"


def test_saved_chat_continues_across_invocations(engines, isolated, capsys) -> None:
    assert main(["--chat", "trip", "-p", "first", "--output", "json"]) == EXIT_OK
    assert main(["--chat", "trip", "-p", "second", "--output", "json"]) == EXIT_OK
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert second["chat"] == "trip"
    prompt = [m["content"] for m in engines[1].prompts[-1] if m["role"] != "system"]
    assert prompt == ["first", "Hello there.", "second"]
    db = sqlite3.connect(isolated / "data" / "ollm.db")
    try:
        (n,) = db.execute("SELECT COUNT(*) FROM chats WHERE title = 'trip'").fetchone()
    finally:
        db.close()
    assert n == 1


def test_a_failed_load_exits_3_and_still_closes(engines, monkeypatch, capsys) -> None:
    def failing(settings, lazy=False):
        engines.append(FakeEngine(fail_load="cannot load: bad tensor"))
        return engines[-1], ()

    monkeypatch.setattr(ollm_tui.cli.chat, "make_engine", failing)
    assert main(["-p", "hi"]) == EXIT_MODEL
    assert "bad tensor" in capsys.readouterr().err
    assert engines[0].closed == 1
