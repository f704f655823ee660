"""Property tests of the context manager with a scripted summariser (the manager is the
subject here, not the model): random chats through ``ChatSession`` with the app's
scheduling (compress after a reply when ``needs_compression``), on a real SQLite file."""

from __future__ import annotations

import tempfile
from itertools import pairwise
from pathlib import Path

from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from ollm_tui.core.compression import Policy
from ollm_tui.engine.base import CancelToken, LoadOptions
from ollm_tui.session.chat import ChatSession, CompressionFinished, CompressionStarted
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from tests.fakes import FakeEngine

TIER_LABELS = {1: "2K", 2: "8K", 3: "16K", 4: "32K", 5: "64K"}


class ScriptedSummariser:
    """Keeps the first words of the text: a valid summary within the cap."""

    def __init__(self) -> None:
        self.calls = 0

    def summarise(self, instruction, text, max_tokens, cancel):
        self.calls += 1
        return " ".join(text.split()[: max(1, max_tokens // 2)])


class RecordingStore(Store):
    """A store that remembers the active context at the time of each snapshot."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.at_snapshot: dict[int, object] = {}

    def add_snapshot(self, chat_id, reason, keep=5):
        snap = super().add_snapshot(chat_id, reason, keep)
        self.at_snapshot[snap.id] = self.active_context(chat_id)
        return snap


def words(n: int, tag: str) -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


turns = st.lists(st.tuples(st.integers(1, 70), st.integers(1, 50)), min_size=4, max_size=28)


@hyp_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tier=st.sampled_from([1, 2, 3, 4, 5]),
    n_ctx=st.sampled_from([320, 512, 900]),
    chat_turns=turns,
)
def test_random_chats_keep_every_invariant(tier: int, n_ctx: int, chat_turns) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        settings = Settings(data_dir=base / "d", config_dir=base / "c", log_dir=base / "l")
        store = RecordingStore(settings.db_path)
        try:
            run_chat(store, settings, tier, n_ctx, chat_turns)
        finally:
            store.close()


def run_chat(store: RecordingStore, settings: Settings, tier: int, n_ctx: int, chat_turns) -> None:
    engine = FakeEngine()
    engine.load(Path("/m/fake.gguf"), LoadOptions(n_ctx=n_ctx))
    chat = store.create_chat()
    store.update_chat_settings(chat.id, tier=TIER_LABELS[tier])
    session = ChatSession(store, engine, settings, chat, summariser=ScriptedSummariser())
    policy = session.policy()
    sent: list[tuple[str, str]] = []
    for n, (user_words, reply_words) in enumerate(chat_turns):
        text = words(user_words, f"u{n}w")
        engine.reply = words(reply_words, f"r{n}w")
        list(session.send(text, CancelToken()))
        sent += [("user", text), ("assistant", engine.reply)]
        prompt = engine.prompts[-1]
        check_prompt(session, prompt, text, n_ctx)
        if session.needs_compression():
            before = session.active_context().checkpoints
            events = list(session.compress(CancelToken(), "auto"))
            assert isinstance(events[0], CompressionStarted) and events[0].reason == "auto"
            assert isinstance(events[-1], CompressionFinished)
            if events[-1].checkpoint is not None:
                check_levels_after_compression(session, policy)
                check_aging(before, session.active_context().checkpoints, policy)
        check_active(session, policy)
        # the full history is never altered
        assert [(m.role, m.content) for m in session.history()] == sent
    check_snapshots(session, store)


def check_prompt(session: ChatSession, prompt, text: str, n_ctx: int) -> None:
    budget = session.budget()
    # the budget is never exceeded: the prompt plus the reply reserve fits the window
    assert session.engine.count_prompt_tokens(prompt) + budget.reserve <= n_ctx
    # the system prompt is verbatim and first
    assert prompt[0]["role"] == "system"
    assert prompt[0]["content"].startswith(session.settings.system_prompt)
    assert prompt[-1] == {"role": "user", "content": text}
    if len(prompt) > 2:  # a user message is never separated from its reply
        assert prompt[1]["role"] == "user"


def check_active(session: ChatSession, policy: Policy) -> None:
    history = session.history()
    active = session.active_context()
    cps = active.checkpoints
    # the kept window is verbatim: exactly the stored messages from kept_from on
    prompt = session.engine_messages(history)
    kept = [m for m in history if active.keeps(m.id)]
    assert prompt[1:] == [{"role": m.role, "content": m.content} for m in kept]
    if kept:
        assert kept[0].role == "user"
    # counts per tier
    if policy.rolling:
        assert len(cps) <= 1 and all(c.level == 0 for c in cps)
    else:
        assert len(cps) <= policy.max_checkpoints
        assert all(c.level in (1, 2, 3) for c in cps)
    # checkpoints cover contiguous, ordered runs before the kept window
    for a, b in pairwise(cps):
        assert a.last_message_id < b.first_message_id
    if cps and active.kept_from_message_id is not None:
        assert cps[-1].last_message_id < active.kept_from_message_id
    budget = session.budget().limit - session.budget().system - session.budget().reserve
    for c in cps:
        assert 0 < c.tokens <= policy.cap(c.level, budget)
        assert c.tokens == session.count_text(c.summary)
    assert session.store.checkpoints(session.chat.id) == list(cps)


def check_levels_after_compression(session: ChatSession, policy: Policy) -> None:
    cps = session.active_context().checkpoints
    if policy.rolling:
        assert [c.level for c in cps] == [0]
        return
    levels = [c.level for c in cps]
    if policy.max_checkpoints >= 2:
        assert levels[-1] == 3  # a new checkpoint starts at L3
    else:  # tier 2's single checkpoint: the new one merged into the aged one
        assert len(cps) == 1 and levels[0] in (1, 2, 3)
    assert levels == sorted(levels)  # older ones are aged: never more detailed than newer
    if len(cps) == policy.max_checkpoints and len(cps) >= 3:
        assert levels[0] == 1


def check_aging(before, after, policy: Policy) -> None:
    """Every older checkpoint is now one level lower (L1 stays), alone or merged."""
    if policy.rolling:
        if before:  # the rolling summary always starts at the chat's first summarised message
            assert after[0].first_message_id == before[0].first_message_id
        return
    for old in before:
        holder = [
            c
            for c in after
            if c.first_message_id <= old.first_message_id
            and old.last_message_id <= c.last_message_id
        ]
        assert len(holder) == 1, (old, after)
        assert holder[0].level <= max(1, old.level - 1)


def check_snapshots(session: ChatSession, store: RecordingStore) -> None:
    snaps = session.snapshots()
    assert len(snaps) <= session.settings.snapshots_kept
    for snap in snaps:
        session.restore_snapshot(snap.id)
        assert session.active_context() == store.at_snapshot[snap.id]


@hyp_settings(max_examples=15, deadline=None)
@given(chat_turns=turns, tier=st.sampled_from([1, 2, 3]))
def test_undo_restores_the_context_before_the_last_compression(chat_turns, tier: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        settings = Settings(data_dir=base / "d", config_dir=base / "c", log_dir=base / "l")
        store = Store(settings.db_path)
        try:
            engine = FakeEngine()
            engine.load(Path("/m/fake.gguf"), LoadOptions(n_ctx=512))
            chat = store.create_chat()
            store.update_chat_settings(chat.id, tier=TIER_LABELS[tier])
            session = ChatSession(store, engine, settings, chat, summariser=ScriptedSummariser())
            for n, (user_words, reply_words) in enumerate(chat_turns):
                engine.reply = words(reply_words, f"r{n}w")
                list(session.send(words(user_words, f"u{n}w"), CancelToken()))
            before = session.active_context()
            events = list(session.compress(CancelToken(), "manual"))
            if events[-1].checkpoint is None:
                assert session.active_context() == before
                return
            assert session.active_context() != before
            assert session.undo_compression()
            assert session.active_context() == before
        finally:
            store.close()
