"""``ChatSession.fit`` with the cached counter: the same prompt as with the engine's counts,
in a few counts instead of one per dropped turn."""

from __future__ import annotations

from pathlib import Path

from ollm_tui.accounting import Accounting
from ollm_tui.engine.base import LoadOptions
from ollm_tui.session import ChatSession
from tests.fakes import FakeCodec, FakeEngine

MODEL = Path("/m/fake.gguf")


def long_history(n: int) -> list[dict[str, str]]:
    roles = ["user", "assistant"]
    return [{"role": roles[i % 2], "content": f"message {i} " + "word " * (i % 7)} for i in range(n)]


def test_fit_with_the_counter_gives_the_engines_prompt(store, settings) -> None:
    engine = FakeEngine()
    engine.load(MODEL, LoadOptions(n_ctx=512))
    plain = ChatSession(store, engine, settings, store.create_chat())
    cached = ChatSession(store, engine, settings, store.create_chat())
    accounting = Accounting(settings, store)
    accounting.attach(FakeCodec(), MODEL)
    cached.accounting = accounting
    assert cached.counter is accounting.counter
    messages = plain.engine_messages([]) + long_history(300)  # type: ignore[operator]
    expected = plain.fit(list(messages))
    got = cached.fit(list(messages))
    limit = 512 - cached.reply_reserve(512)
    assert engine.count_prompt_tokens(got) <= limit
    assert got[0]["role"] == "system" and got[1]["role"] == "user"
    assert got == expected  # the same turns kept as by the one-turn-at-a-time loop
    assert cached.trimmed_messages == plain.trimmed_messages > 250


def test_the_counter_of_another_model_is_not_used(store, settings) -> None:
    engine = FakeEngine()
    engine.load(MODEL, LoadOptions(n_ctx=512))
    session = ChatSession(store, engine, settings, store.create_chat())
    session.accounting = Accounting(settings, store)
    session.accounting.attach(FakeCodec(), Path("/m/other.gguf"))
    assert session.counter is None  # the engine counts until the right tokenizer is loaded


def test_a_failing_counter_falls_back_to_the_engine(store, settings) -> None:
    class Broken(FakeCodec):
        def render(self, messages):
            raise ValueError("the template refused the messages")

    engine = FakeEngine()
    engine.load(MODEL, LoadOptions(n_ctx=512))
    session = ChatSession(store, engine, settings, store.create_chat())
    session.accounting = Accounting(settings, store)
    session.accounting.attach(Broken(), MODEL)
    messages = session.engine_messages([]) + long_history(300)  # type: ignore[operator]
    got = session.fit(list(messages))
    assert engine.count_prompt_tokens(got) <= 512 - session.reply_reserve(512)
