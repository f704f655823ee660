"""The session's counts with the cached counter: the same prompts as with the engine's
counts, and the engine's counts when the counter is for another model or fails."""

from __future__ import annotations

from pathlib import Path

from ollm_tui.engine.base import CancelToken, LoadOptions
from ollm_tui.session.accounting import Accounting
from ollm_tui.session.chat import ChatSession
from tests.fakes import FakeCodec, FakeEngine

MODEL = Path("/m/fake.gguf")


def chat(store, settings, engine, accounting=None) -> ChatSession:
    session = ChatSession(store, engine, settings, store.create_chat())
    session.accounting = accounting
    return session


def run_long_chat(session: ChatSession, turns: int = 30) -> None:
    for i in range(turns):
        list(session.send(f"message {i} " + "word " * (i % 7), CancelToken()))


def test_the_counter_gives_the_engines_prompts(store, settings) -> None:
    plain_engine, cached_engine = FakeEngine(reply="a reply"), FakeEngine(reply="a reply")
    for engine in (plain_engine, cached_engine):
        engine.load(MODEL, LoadOptions(n_ctx=512))
    accounting = Accounting(settings, store)
    accounting.attach(FakeCodec(), MODEL)
    plain = chat(store, settings, plain_engine)
    cached = chat(store, settings, cached_engine, accounting)
    assert cached.counter is accounting.counter
    run_long_chat(plain)
    run_long_chat(cached)
    assert cached_engine.prompts == plain_engine.prompts  # same compressions, same prompts
    assert store.checkpoints(cached.chat.id)


def test_the_counter_of_another_model_is_not_used(store, settings) -> None:
    engine = FakeEngine()
    engine.load(MODEL, LoadOptions(n_ctx=512))
    session = chat(store, settings, engine, Accounting(settings, store))
    session.accounting.attach(FakeCodec(), Path("/m/other.gguf"))
    assert session.counter is None  # the engine counts until the right tokenizer is loaded


def test_a_failing_counter_falls_back_to_the_engine(store, settings) -> None:
    class Broken(FakeCodec):
        def render(self, messages):
            raise ValueError("the template refused the messages")

    engine = FakeEngine(reply="a reply")
    engine.load(MODEL, LoadOptions(n_ctx=512))
    accounting = Accounting(settings, store)
    accounting.attach(Broken(), MODEL)
    session = chat(store, settings, engine, accounting)
    run_long_chat(session)
    reserve = session.budget().reserve
    assert all(engine.count_prompt_tokens(p) <= 512 - reserve for p in engine.prompts)
