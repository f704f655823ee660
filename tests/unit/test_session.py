"""Turn logic with a fake engine: storage while streaming, stop, errors, regenerate, fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollm_tui.engine.base import CancelToken, EngineError, LoadOptions
from ollm_tui.session.chat import (
    ChatSession,
    MessageTooLong,
    TurnDelta,
    TurnFinished,
    TurnStarted,
    title_from,
)
from tests.fakes import FakeEngine


def make(store, settings, engine=None, n_ctx=4096):
    engine = engine or FakeEngine()
    engine.load(Path("/m/fake.gguf"), LoadOptions(n_ctx=n_ctx))
    return ChatSession(store, engine, settings, store.create_chat()), engine


def test_send_streams_and_stores(store, settings) -> None:
    session, engine = make(store, settings, FakeEngine(reply="one two three"))
    events = list(session.send("hello there", CancelToken()))
    assert isinstance(events[0], TurnStarted)
    assert "".join(e.text for e in events if isinstance(e, TurnDelta)) == "one two three"
    fin = events[-1]
    assert isinstance(fin, TurnFinished) and fin.error is None
    msgs = store.messages(session.chat.id)
    assert [(m.role, m.content, m.status) for m in msgs] == [
        ("user", "hello there", "complete"),
        ("assistant", "one two three", "complete"),
    ]
    assert msgs[1].meta["completion_tokens"] == 3
    assert engine.prompts[0][0]["role"] == "system"
    assert session.chat.title == "hello there"  # first message names the chat


def test_cancel_keeps_partial_reply_marked_stopped(store, settings) -> None:
    session, _ = make(store, settings, FakeEngine(reply="a b c d e f g h"))
    cancel = CancelToken()
    seen = []
    for ev in session.send("go", cancel):
        if isinstance(ev, TurnDelta):
            seen.append(ev.text)
            if len(seen) == 3:
                cancel.cancel()
    reply = store.messages(session.chat.id)[-1]
    assert reply.status == "stopped"
    assert reply.content == "a b c"


class Exploding(FakeEngine):
    def stream(self, messages, params, cancel):
        yield from ()
        raise EngineError("the model fell over")


def test_engine_error_is_stored_not_raised(store, settings) -> None:
    session, _ = make(store, settings, Exploding())
    fin = list(session.send("hi", CancelToken()))[-1]
    assert fin.error == "the model fell over"
    reply = store.messages(session.chat.id)[-1]
    assert reply.status == "error" and reply.meta["error"] == "the model fell over"


def test_regenerate_replaces_last_reply(store, settings) -> None:
    engine = FakeEngine(reply="first")
    session, _ = make(store, settings, engine)
    list(session.send("q", CancelToken()))
    engine.reply = "second"
    list(session.regenerate(CancelToken()))
    msgs = store.messages(session.chat.id)
    assert [m.content for m in msgs] == ["q", "second"]


def test_history_is_sent_and_stopped_replies_count(store, settings) -> None:
    engine = FakeEngine(reply="r1")
    session, _ = make(store, settings, engine)
    list(session.send("q1", CancelToken()))
    store.add_message(
        session.chat.id, "assistant", "", status="error"
    )  # empty error rows are skipped
    list(session.send("q2", CancelToken()))
    roles = [(m["role"], m["content"]) for m in engine.prompts[-1]]
    assert roles[1:] == [("user", "q1"), ("assistant", "r1"), ("user", "q2")]


def test_old_turns_are_compressed_when_the_window_is_full(store, settings) -> None:
    # fake counts words + 4 per message; n_ctx 240 leaves 180 after the 60-token reserve
    engine = FakeEngine(reply="ok")
    session, _ = make(store, settings, engine, n_ctx=240)
    for i in range(12):
        list(session.send(f"question number {i} " + "pad " * 8, CancelToken()))
    last = engine.prompts[-1]
    assert last[0]["role"] == "system"
    assert "Summary of earlier conversation" in last[0]["content"]
    assert last[1]["role"] == "user"  # a reply never loses its question
    assert last[-1]["content"].startswith("question number 11")
    assert engine.count_prompt_tokens(last) <= 240 - 60
    assert store.checkpoints(session.chat.id)  # the summary is stored
    assert len(store.messages(session.chat.id)) == 24  # nothing deleted from the store


def test_message_too_long_is_refused_before_storing(store, settings) -> None:
    session, _ = make(store, settings, n_ctx=120)
    with pytest.raises(MessageTooLong, match="needs"):
        list(session.send("word " * 500, CancelToken()))
    assert store.messages(session.chat.id) == []


def test_title_from() -> None:
    assert title_from("  hello\n world ") == "hello world"
    long = title_from("a" * 10 + " " + "b" * 50)
    assert long.endswith("…") and len(long) <= 41


def test_regenerate_that_cannot_fit_keeps_the_old_reply(store, settings) -> None:
    engine = FakeEngine(reply="the old reply")
    session, _ = make(store, settings, engine, n_ctx=120)
    list(session.send("short question", CancelToken()))
    # the window shrinks (say, a smaller model was loaded): the question alone no longer fits
    engine.load(Path("/m/fake.gguf"), LoadOptions(n_ctx=24))
    with pytest.raises(MessageTooLong):
        list(session.regenerate(CancelToken()))
    assert [m.content for m in store.messages(session.chat.id)] == [
        "short question",
        "the old reply",
    ]
