"""Compression rules one by one: validation and the fallback, key facts, the kept window,
the emergency ladder, snapshots, persistence across reopening."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollm_tui.core.compression import Policy, split_index
from ollm_tui.core.conversation import SUMMARY_HEADING
from ollm_tui.core.summaries import (
    extractive,
    key_facts,
    problem_with,
    truncate_to,
    with_key_facts,
)
from ollm_tui.engine.base import CancelToken, LoadOptions
from ollm_tui.session.chat import (
    ChatSession,
    CompressionFinished,
    CompressionStarted,
    CompressionStep,
    MessageTooLong,
    TurnStarted,
)
from ollm_tui.store.db import Store
from tests.fakes import FakeEngine


def words(text: str) -> int:
    return len(text.split())


class Scripted:
    """Returns the scripted answers in turn (the last one repeats)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.instructions: list[str] = []

    def summarise(self, instruction, text, max_tokens, cancel):
        self.instructions.append(instruction)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return (
            instruction if answer == "ECHO" else (text + " " + text if answer == "LONG" else answer)
        )


def session_with(store, settings, summariser, n_ctx=512, tier="8K", reply="ok") -> ChatSession:
    """A chat at ``tier`` with a fake engine; kept window 10 % so that a manual
    compression has something to summarise in a short chat."""
    settings = settings.with_(kept_percent=10.0) if settings.kept_percent == 50.0 else settings
    engine = FakeEngine(reply=reply)
    engine.load(Path("/m/fake.gguf"), LoadOptions(n_ctx=n_ctx))
    chat = store.create_chat()
    store.update_chat_settings(chat.id, tier=tier)
    return ChatSession(store, engine, settings, chat, summariser=summariser)


def fill(session: ChatSession, turns: int = 10) -> None:
    for i in range(turns):
        text = (
            f"Turn {i}: Alice edits src/app_{i}.py and sets max_retries to {100 + i}. "
            + "more " * 20
        )
        list(session.send(text, CancelToken()))


# -- validation and the fallback -----------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "   ", "LONG", "ECHO", "User: Turn 0: Alice edits"])
def test_a_bad_summary_is_retried_once_then_the_fallback_writes_it(store, settings, bad) -> None:
    summariser = Scripted(bad)
    session = session_with(store, settings, summariser, n_ctx=2048)
    fill(session)
    events = list(session.compress(CancelToken()))
    steps = [e.text for e in events if isinstance(e, CompressionStep)]
    assert len(summariser.instructions) == 2  # the first try and one retry
    assert summariser.instructions[0] != summariser.instructions[1]  # other wording
    assert any("trying again" in s for s in steps) and any("extractive" in s for s in steps)
    cp = events[-1].checkpoint
    assert cp is not None and cp.fallback and cp.label.endswith("extractive")
    assert cp.summary.startswith("User asked: Turn 0")
    assert "src/app_0.py" in cp.summary and "max_retries" in cp.summary  # key facts
    assert cp.tokens <= session.policy().cap(3, session.budget().limit)


def test_a_good_summary_on_the_retry_is_used(store, settings) -> None:
    session = session_with(
        store, settings, Scripted("", "They talked about Alice's files."), n_ctx=2048
    )
    fill(session)
    cp = list(session.compress(CancelToken()))[-1].checkpoint
    assert not cp.fallback
    assert cp.summary.startswith("They talked about Alice's files.")
    assert "Key facts:" in cp.summary and "src/app_0.py" in cp.summary  # missing facts appended


def test_problem_with_names_each_rule() -> None:
    instruction = "Summarise the conversation below in at most 70 words."
    assert problem_with("", 50, instruction, words, 0.6) == "the summary was empty"
    assert "not shorter" in problem_with("a " * 60, 50, instruction, words, 0.6)
    assert "instruction" in problem_with(instruction, 50, instruction, words, 0.6)
    replay = "User: Note 4: Dana says the file src/a.py\n\nAssistant: First, check it"
    assert "replayed" in problem_with(replay, 50, instruction, words, 0.6)
    assert problem_with("Alice fixed the bug.", 50, instruction, words, 0.6) is None


def test_key_facts_find_names_numbers_paths_identifiers() -> None:
    text = (
        "Please ask Bob Smith about ~/work/data.csv and the parse_row() call in config.toml: "
        "it fails after 3.5 seconds with MAX_SIZE and getValue."
    )
    facts = key_facts([text])
    for fact in (
        "Bob Smith",
        "~/work/data.csv",
        "parse_row()",
        "config.toml",
        "3.5",
        "MAX_SIZE",
        "getValue",
    ):
        assert fact in facts, (fact, facts)
    assert "Please" not in facts


def test_key_facts_are_appended_within_the_cap() -> None:
    out = with_key_facts("A summary.", ["one_fact", "two_fact", "three_fact"], 6, words)
    assert out == "A summary.\nKey facts: one_fact, two_fact"
    assert words(out) <= 6


def test_extractive_and_truncate_stay_within_the_cap() -> None:
    users = [f"Question {i} about file_{i}.py is here. And more text." for i in range(40)]
    out = extractive(users, "", 60, words)
    assert words(out) <= 60 and "User asked: Question 0" in out and "file_0.py" in out
    assert truncate_to("a b c d e", 3, words) == "a b c"


def test_split_index_keeps_two_turns_and_cuts_before_a_user_message() -> None:
    roles = ["user", "assistant"] * 5
    assert split_index(roles, [10] * 10, target=0, min_turns=2) == 6
    assert split_index(roles, [10] * 10, target=45, min_turns=2) == 6  # 4 messages = 40 ≤ 45
    assert split_index(roles, [10] * 10, target=60, min_turns=2) == 4
    assert split_index(roles, [10] * 10, target=1000, min_turns=2) == 0  # everything fits
    assert split_index(["user", "assistant", "assistant", "user"], [5] * 4, 0, 1) == 3


def test_level_caps_scale_down_on_small_windows() -> None:
    policy = Policy()
    assert policy.cap(3, 100_000) == 500 and policy.cap(2, 100_000) == 300
    assert policy.cap(1, 100_000) == 100 and policy.cap(0, 100_000) == 200
    assert policy.cap(3, 1_100) == 165  # 15 % of a 2K window's budget


# -- scheduling, the ladder, snapshots ------------------------------------------------------


def test_send_does_not_compress_in_front_of_the_prompt_when_it_fits(store, settings) -> None:
    session = session_with(store, settings, Scripted("summary text"))
    fill(session, 3)
    assert session.needs_compression() is False or session.usage().percent >= 80
    events = list(session.send("short", CancelToken()))
    assert isinstance(events[0], TurnStarted)


def test_the_ladder_runs_when_a_big_message_cannot_fit(store, settings) -> None:
    session = session_with(store, settings, Scripted("a summary of it all"), n_ctx=512)
    fill(session, 6)
    events = list(session.send("big " * 300, CancelToken()))
    assert isinstance(events[0], CompressionStarted) and events[0].reason == "emergency"
    finished = next(e for e in events if isinstance(e, CompressionFinished))
    assert finished.tokens_after < finished.tokens_before
    assert any(isinstance(e, TurnStarted) for e in events)  # the turn went ahead
    prompt = session.engine.prompts[-1]
    assert session.engine.count_prompt_tokens(prompt) + session.budget().reserve <= 512
    steps = [e.text for e in events if isinstance(e, CompressionStep)]
    assert any("rolling over" in s for s in steps)
    assert any(s.reason == "before rollover" for s in session.snapshots())


def test_a_message_too_long_even_alone_is_refused_with_the_reason(store, settings) -> None:
    session = session_with(store, settings, Scripted("x"), n_ctx=256)
    fill(session, 2)
    before = session.active_context()
    with pytest.raises(MessageTooLong, match=r"needs .* tokens"):
        list(session.send("word " * 400, CancelToken()))
    assert session.active_context() == before  # nothing compressed for nothing
    assert len(session.history()) == 4


def test_regenerate_after_compression_keeps_checkpoints_coherent(store, settings) -> None:
    session = session_with(store, settings, Scripted("the summary"))
    fill(session)
    list(session.compress(CancelToken()))
    active = session.active_context()
    session.engine.reply = "a new answer"
    list(session.regenerate(CancelToken()))
    assert session.active_context() == active
    assert session.history()[-1].content == "a new answer"
    assert session.engine.prompts[-1][-1]["role"] == "user"


def test_snapshot_at_85_percent_once_per_active_context(store, settings) -> None:
    session = session_with(store, settings.with_(compress_percent=99.0), Scripted("s"), n_ctx=512)
    for i in range(12):
        list(session.send(f"message {i} " + "word " * 30, CancelToken()))
        if session.usage().percent >= 85:
            break
    snaps = [s for s in session.snapshots() if s.reason == "85% usage"]
    assert len(snaps) == 1
    list(session.send("one more", CancelToken()))
    assert len([s for s in session.snapshots() if s.reason == "85% usage"]) == 1


def test_only_the_last_snapshots_are_kept(store, settings) -> None:
    session = session_with(store, settings.with_(snapshots_kept=3), Scripted("s"), n_ctx=320)
    for i in range(30):
        list(session.send(f"message {i} " + "word " * 20, CancelToken()))
        if session.needs_compression():
            list(session.compress(CancelToken(), "auto"))
    assert len(session.snapshots()) == 3
    assert len(store.all_checkpoints(session.chat.id)) > 3


def test_reopening_restores_the_active_context_and_the_prompt(settings) -> None:
    store = Store(settings.db_path)
    session = session_with(store, settings, Scripted("what happened so far"))
    fill(session)
    list(session.compress(CancelToken()))
    prompt = session.engine_messages(session.history())
    active = session.active_context()
    chat_id = session.chat.id
    store.close()
    store = Store(settings.db_path)
    try:
        again = ChatSession(store, session.engine, settings, store.get_chat(chat_id))
        assert again.active_context() == active
        assert again.engine_messages(again.history()) == prompt
        assert prompt[0]["content"].startswith(settings.system_prompt + "\n\n" + SUMMARY_HEADING)
        assert "[1] what happened so far" in prompt[0]["content"]
    finally:
        store.close()


def test_the_prefix_is_byte_stable_between_compressions(store, settings) -> None:
    session = session_with(store, settings, Scripted("stable summary"), n_ctx=2048)
    fill(session, 3)
    list(session.compress(CancelToken()))
    list(session.send("next", CancelToken()))
    list(session.send("and next", CancelToken()))
    a, b = session.engine.prompts[-2], session.engine.prompts[-1]
    assert b[: len(a)] == [*a[:-1], a[-1]] or b[: len(a)] == a  # older prompt is a prefix
    assert a[0] == b[0]


def test_undo_with_nothing_to_undo(store, settings) -> None:
    session = session_with(store, settings, Scripted("s"))
    assert session.undo_compression() is False
    with pytest.raises(ValueError, match="snapshot 12345 does not belong to this chat"):
        session.restore_snapshot(12345)


def test_nothing_to_compress_is_reported(store, settings) -> None:
    session = session_with(store, settings, Scripted("s"))
    fill(session, 2)
    events = list(session.compress(CancelToken()))
    assert events[-1].checkpoint is None and "nothing to compress" in events[-1].error


def test_export_has_the_full_history_and_every_checkpoint(store, settings) -> None:
    import json

    from ollm_tui.store.export import render

    session = session_with(store, settings, Scripted("what was said"))
    fill(session)
    list(session.compress(CancelToken()))
    chat, messages = session.chat, session.history()
    cps = store.all_checkpoints(chat.id)
    active = session.active_context().checkpoint_ids
    md = render(chat, messages, "md", cps, active)
    assert all(m.content.strip()[:40] in md for m in messages)  # every original message
    assert "> **Checkpoint** (" in md and "what was said" in md and "sent to the model" in md
    data = json.loads(render(chat, messages, "json", cps, active))
    assert len(data["messages"]) == len(messages)
    assert data["checkpoints"][-1]["active"] is True
    assert data["checkpoints"][-1]["last_message_id"] in {m["id"] for m in data["messages"]}


def test_a_summary_model_that_cannot_be_found_falls_back_with_the_reason(store, settings) -> None:
    from ollm_tui.session.summariser import EngineSummariser

    settings = settings.with_(summary_model="no-such-model-anywhere", kept_percent=10.0)
    session = session_with(store, settings, None, n_ctx=2048)
    assert isinstance(session.summariser, EngineSummariser)
    fill(session)
    events = list(session.compress(CancelToken()))
    steps = [e.text for e in events if isinstance(e, CompressionStep)]
    assert any("summariser failed" in s and "no-such-model-anywhere" in s for s in steps), steps
    cp = events[-1].checkpoint
    assert cp is not None and cp.fallback and cp.summary


def test_the_rolling_fallback_keeps_the_earlier_summary(store, settings) -> None:
    session = session_with(store, settings, Scripted(""), n_ctx=2048, tier="2K")
    fill(session)
    list(session.compress(CancelToken()))
    first = session.active_context().checkpoints[0]
    assert first.level == 0 and first.fallback
    fill(session, 6)
    list(session.compress(CancelToken()))
    (rolled,) = session.active_context().checkpoints
    assert rolled.summary.startswith("Earlier: User asked: Turn 0")
    fill(session, 6)
    list(session.compress(CancelToken()))
    (again,) = session.active_context().checkpoints
    assert again.summary.startswith("Earlier: User asked: Turn 0")  # no "Earlier: Earlier:"
    assert again.summary.count("Key facts:") == 1
    assert rolled.first_message_id == first.first_message_id
    assert rolled.message_count > first.message_count
    assert rolled.tokens <= session.policy().cap(0, session.budget().limit)
