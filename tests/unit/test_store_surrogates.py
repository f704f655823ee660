"""A lone surrogate (a server's JSON can carry ``"\\ud800"``) cannot be encoded as UTF-8:
the store writes it as U+FFFD instead of failing, so the turn and the reply survive."""

from __future__ import annotations

from pathlib import Path

from ollm_tui.engine.base import CancelToken, LoadOptions
from ollm_tui.session.chat import ChatSession, TurnFinished
from ollm_tui.store.db import Store
from tests.fakes import FakeEngine

LONE = "a\ud800b"


def test_messages_titles_and_meta_with_a_lone_surrogate_are_stored(store: Store) -> None:
    chat = store.create_chat(f"title {LONE}")
    user = store.add_message(chat.id, "user", f"question {LONE}")
    reply = store.add_message(chat.id, "assistant", "", status="streaming")
    store.update_message(reply.id, content=f"answer {LONE} \udfff end", status="complete")
    store.update_message(reply.id, meta={"note": LONE})
    assert [m.content for m in store.messages(chat.id)] == [
        "question a\ufffdb",
        "answer a\ufffdb \ufffd end",
    ]
    assert store.get_message(user.id).content == "question a\ufffdb"
    assert store.get_message(reply.id).meta["note"] == LONE  # JSON escapes it: exact
    assert store.get_chat(chat.id).title == "title a\ufffdb"


def test_ordinary_text_stays_byte_exact(store: Store) -> None:
    chat = store.create_chat()
    text = "emoji 😀, CJK 漢字, control \x1b[2J, nul-free"
    message = store.add_message(chat.id, "user", text)
    assert store.get_message(message.id).content == text


def test_a_reply_holding_a_lone_surrogate_completes(store, settings) -> None:
    engine = FakeEngine(reply=f"one {LONE} two")
    engine.load(Path("/m/fake.gguf"), LoadOptions(n_ctx=4096))
    session = ChatSession(store, engine, settings, store.create_chat())
    events = list(session.send(f"hi {LONE}", CancelToken()))
    finished = events[-1]
    assert isinstance(finished, TurnFinished) and finished.error is None
    stored = store.messages(session.chat.id)
    assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "complete")]
    assert "\ufffd" in stored[0].content and "\ufffd" in stored[1].content
    assert not any("\ud800" in m.content for m in stored)
