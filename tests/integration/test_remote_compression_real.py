"""A long chat against llama-cpp-python's own server compresses exactly as in-process does:
the same ``ChatSession``, exact counts through the server's tokenize endpoint, checkpoints
in the SQLite file, and no reply ever overflowing the server's 2,048-token window."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollm_tui.engine.base import GenParams, LoadOptions
from ollm_tui.engine.remote.engine import RemoteEngine
from ollm_tui.session.accounting import Accounting
from ollm_tui.session.chat import ChatSession
from ollm_tui.settings.servers import ServerConfig, remote_path
from tests.integration.long_chat import run_long_chat

TURNS = 16
N_CTX = 2048


def user_text(i: int) -> str:
    return (
        f"Note {i}: Dana fixes src/mod_{i}.py by step {i * 7}. The service reads config.toml at "
        f"start, retries three times and logs to /var/log/app_{i}.log; the team reviews it on "
        f"day {i + 3}. Reply in one short sentence."
    )


@pytest.mark.timeout(900)
def test_a_long_chat_on_a_server_compresses_and_never_overflows(
    llama_server: str, smollm_path: Path, settings, store
) -> None:
    engine = RemoteEngine([ServerConfig("local", llama_server, context=N_CTX)])
    engine.load(remote_path("local", str(smollm_path)), LoadOptions())
    codec = engine.counting_codec()
    assert codec.exact  # the server's tokenizer, checked against its own prompt count
    accounting = Accounting(settings, store)
    accounting.attach(codec, engine.info.path)
    chat = store.create_chat("remote long chat")
    store.update_chat_settings(chat.id, tier="2K")
    session = ChatSession(store, engine, settings, chat)
    session.accounting = accounting
    params = GenParams(temperature=0.0, max_tokens=24, seed=1)
    try:
        errors, compressions = run_long_chat(
            session, (user_text(i) for i in range(TURNS)), params, N_CTX
        )
    finally:
        accounting.detach()
        engine.close()
    assert errors == []
    assert compressions >= 1
    messages = store.messages(chat.id)
    assert len(messages) == 2 * TURNS  # the full history is kept
    assert all(m.status == "complete" for m in messages)
    assert store.all_checkpoints(chat.id)
    active = session.active_context()
    assert active.checkpoints and active.kept_from_message_id is not None
    # what the server saw last starts with the summaries, then the kept messages verbatim
    prompt = session.engine_messages(session.history())
    assert "Summary of earlier conversation" in prompt[0]["content"]
