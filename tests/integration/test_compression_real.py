"""Long scripted chats on the real starter model: 60 turns at 2K and 24 long ones at 8K go through
``ChatSession`` (with the app's scheduling: compress right after a reply when needed)
without one context-overflow error, and the compressions are in the SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ollm_tui.core.tiers import effective_limit
from ollm_tui.engine.base import GenParams, LoadOptions
from ollm_tui.engine.llama.engine import LlamaEngine
from ollm_tui.session.accounting import Accounting
from ollm_tui.session.chat import ChatSession
from tests.integration.long_chat import run_long_chat

TURNS = {2048: 60, 8192: 24}
REPLY_TOKENS = {2048: 16, 8192: 12}
"""Short replies keep the runtime sane; at 8K long messages fill the budget instead."""
COMPRESSIONS = {2048: 1, 8192: 2}
"""At least this many: at 8K each turn adds about 5 % of the budget (about 310 tokens), so
24 turns cross the 80 % trigger twice (measured: turns 15 and 21)."""


def user_text(i: int, long: bool) -> str:
    text = f"Note {i}: Dana fixes src/mod_{i}.py by step {i * 7}."
    for k in range(4 if long else 0):  # about 310 tokens: 24 turns fill 8K as 60 short ones did not
        text += (
            f" Some context ({k}): the service reads config_{k}.toml at start, retries {k + 3} "
            f"times, and logs to /var/log/app_{i}_{k}.log; the team meets on day {i + 3 + k} to "
            "review it. The last review found two slow queries and one missing index on the "
            "orders table."
        )
    return text


# Measured 2026-12-03 with `--durations` on a 2-core machine shared with Pilot tests (load
# 2.8-3.0): 8K with 60 short-ish turns took 527 s and compressed once, 2K 178 s. 8K with 24
# turns of about 310 tokens: 317 s (load 1.4-1.8), compressing twice; each compression of
# about 3,000 tokens costs about 100 s of that, each turn 3-9 s. 1,200 s keeps the slowest
# well under half its timeout.
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("size", [2048, 8192])
def test_long_chats_compress_and_never_overflow(
    size, smollm_path: Path, profiles, settings, store
) -> None:
    n_ctx = effective_limit(size)
    engine = LlamaEngine(profiles)
    engine.load(smollm_path, LoadOptions(n_ctx=n_ctx, n_threads=1, n_threads_batch=1))
    accounting = Accounting(settings, store)
    accounting.attach(engine.counting_codec(shared=True), smollm_path)
    chat = store.create_chat("long chat")
    store.update_chat_settings(chat.id, tier=f"{size // 1024}K")
    session = ChatSession(store, engine, settings, chat)
    session.accounting = accounting
    params = GenParams(temperature=0.0, max_tokens=REPLY_TOKENS[size], seed=1)
    try:
        errors, compressions = run_long_chat(
            session, (user_text(i, long=size > 4096) for i in range(TURNS[size])), params, n_ctx
        )
    finally:
        accounting.detach()
        engine.close()
    assert errors == []
    assert compressions >= COMPRESSIONS[size]
    messages = store.messages(chat.id)
    assert len(messages) == 2 * TURNS[size]
    assert all(m.status == "complete" for m in messages)
    db = sqlite3.connect(settings.db_path)
    written = db.execute(
        "SELECT COUNT(*) FROM checkpoints WHERE chat_id = ?", (chat.id,)
    ).fetchone()[0]
    assert written >= compressions
    active = store.checkpoints(chat.id)
    assert active and all(c.summary.strip() for c in active)
    assert session.active_context().kept_from_message_id is not None
