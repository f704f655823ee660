"""`ollm -p` writes a reply to a terminal through the display sanitiser, and the exact text to
a pipe, a file or JSON (a fake OpenAI-compatible server scripts the hostile reply)."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import tty
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ollm_tui.cli.common import shown as _shown
from ollm_tui.cli.prompt import ReplyWriter
from ollm_tui.core.display import display
from tests.fake_server import FakeServer
from tests.unit.test_display import HOSTILE, assert_terminal_safe, hostile_text

PIECES = [
    "Hi ",
    "\x1b[2J\x1b[H",
    "\x1b]0;PWNED\x07",
    " and ",
    "\x1b]52;c;aGk=\x07",
    "\u202eok\r",
    "\n",
]
REPLY = "".join(PIECES)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {**os.environ}
    e.update(
        OLLM_DATA_DIR=str(tmp_path / "data"),
        OLLM_CONFIG_DIR=str(tmp_path / "config"),
        OLLM_LOG_DIR=str(tmp_path / "logs"),
    )
    e.pop("OLLM_MODEL", None)
    return e


@pytest.fixture
def server():
    with FakeServer() as s:
        s.pieces = list(PIECES)
        yield s


def read_all(fd: int, proc: subprocess.Popen[bytes]) -> bytes:
    """Everything written to the pty until the process ends."""
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not data:
                break
            out += data
        elif proc.poll() is not None:
            break
    return out


def run_on_pty(env: dict[str, str], *args: str) -> tuple[int, bytes, str]:
    """Run ``ollm ARGS`` with standard output on a pty (raw: no newline translation)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ollm_tui", *args],
        stdout=slave,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(slave)
    try:
        out = read_all(master, proc)
    finally:
        os.close(master)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, out, err.decode()


def test_a_reply_to_a_terminal_shows_visible_escapes(env, server) -> None:
    code, out, err = run_on_pty(env, "-p", "hi", "--server", server.url)
    assert code == 0, err
    text = out.decode()
    assert text == display(REPLY) + "\n"
    assert "␛[2J␛[H" in text and "␛]0;PWNED␇" in text and "⟪RLO⟫" in text
    assert_terminal_safe(text)


def test_a_reply_to_a_pipe_is_the_exact_text(env, server) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ollm_tui", "-p", "hi", "--server", server.url],
        check=False,
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode() == REPLY + "\n"


def test_json_output_escapes_every_control_and_keeps_the_text(env, server) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ollm_tui", "-p", "hi", "--server", server.url, "--output", "json"],
        check=False,
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    document = out.stdout.decode()
    assert_terminal_safe(document.rstrip("\n"))
    assert json.loads(document)["reply"] == REPLY


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@given(st.lists(st.one_of(hostile_text, st.sampled_from(HOSTILE)), max_size=10))
@settings(max_examples=200)
def test_the_reply_writer_on_a_terminal(chunks: list[str]) -> None:
    """The exact code path ``cmd_prompt`` writes a reply with: safe on a terminal (and the
    same text as the app shows), exact elsewhere."""
    terminal, pipe = FakeTerminal(), io.StringIO()
    for stream in (terminal, pipe):
        writer = ReplyWriter(stream)
        for chunk in chunks:
            writer.write(chunk)
        writer.close()
    assert terminal.getvalue() == display("".join(chunks)) + "\n"
    assert_terminal_safe(terminal.getvalue())
    assert pipe.getvalue() == "".join(chunks) + "\n"


def test_the_reply_writer_on_a_real_pty() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    with os.fdopen(slave, "w", encoding="utf-8", closefd=True) as stream:
        writer = ReplyWriter(stream)
        for piece in PIECES:
            writer.write(piece)
        writer.close()
    data = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: everything was read and the other side is closed
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    assert data.decode() == display(REPLY) + "\n"


def test_stderr_lines_are_safe_on_a_terminal_and_exact_elsewhere() -> None:
    assert _shown("ollm: \x1b]0;x\x07", FakeTerminal()) == "ollm: ␛]0;x␇"
    assert _shown("ollm: \x1b]0;x\x07", io.StringIO()) == "ollm: \x1b]0;x\x07"


def test_export_keeps_the_exact_text(env, tmp_path: Path, monkeypatch) -> None:
    """Markdown to a file or pipe and JSON are exact; Markdown on a terminal is sanitised."""
    from ollm_tui.cli import main
    from ollm_tui.store.db import Store

    for name in ("OLLM_DATA_DIR", "OLLM_CONFIG_DIR", "OLLM_LOG_DIR"):
        monkeypatch.setenv(name, env[name])
    store = Store(Path(env["OLLM_DATA_DIR"]) / "ollm.db")
    chat = store.create_chat("Hostile")
    store.add_message(chat.id, "assistant", REPLY + "\x9b\u2066")
    store.close()
    md_file, json_file = tmp_path / "c.md", tmp_path / "c.json"
    assert main(["export", "Hostile", "--out", str(md_file)]) == 0
    assert REPLY + "\x9b\u2066" in md_file.read_bytes().decode()
    assert main(["export", "Hostile", "--format", "json", "--out", str(json_file)]) == 0
    document = json_file.read_text(encoding="utf-8")
    assert_terminal_safe(document.replace("\n", ""))
    assert json.loads(document)["messages"][0]["content"] == REPLY + "\x9b\u2066"
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["export", "Hostile"]) == 0
    assert display(REPLY) in terminal.getvalue()
    assert_terminal_safe(terminal.getvalue())
