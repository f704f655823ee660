"""What one plain turn costs: database reads and tokenizer calls are counted, not timed.

A plain turn (no compression) reads the chat's messages once and its active context once,
counts the prompt once before the reply (does it fit?) and once after it (the usage that
``TurnFinished`` carries); the meter and the compression check reuse that figure.
"""

from __future__ import annotations

from pathlib import Path

from ollm_tui.engine.base import CancelToken, LoadOptions
from ollm_tui.session.accounting import Accounting
from ollm_tui.session.chat import ChatSession, TurnFinished
from tests.fakes import FakeCodec, FakeEngine

MODEL = Path("/m/fake.gguf")


class CountingCodec(FakeCodec):
    """A FakeCodec that counts its tokenizer calls."""

    def __init__(self) -> None:
        self.calls = 0

    def count(self, text: str) -> int:
        self.calls += 1
        return super().count(text)


def open_chat(store, settings, turns: int) -> tuple[ChatSession, CountingCodec]:
    engine = FakeEngine(reply="a short reply")
    engine.load(MODEL, LoadOptions(n_ctx=4096))
    accounting = Accounting(settings, store)
    codec = CountingCodec()
    accounting.attach(codec, MODEL)
    session = ChatSession(store, engine, settings, store.create_chat())
    session.accounting = accounting
    for i in range(turns):
        list(session.send(f"earlier message {i}", CancelToken()))
    return session, codec


def test_one_plain_turn_reads_the_chat_once_and_counts_it_twice(store, settings) -> None:
    session, codec = open_chat(store, settings, turns=10)
    reads: list[str] = []
    store.trace(
        lambda sql: reads.append(sql) if sql.lstrip().upper().startswith("SELECT") else None
    )
    codec.calls = 0
    session.counts.calls = 0
    events = list(session.send("and one more question", CancelToken()))
    store.trace(None)
    message_reads = [s for s in reads if "FROM messages WHERE chat_id" in s and "MAX(seq)" not in s]
    assert len(message_reads) == 1, reads
    assert not any("FROM active_context" in s for s in reads), reads  # kept since the chat opened
    assert not any("FROM chats" in s for s in reads), reads
    # besides that one read: the next seq of each insert, the meta merge of the reply, and
    # the count cache's lookup of what is new
    state = [
        s
        for s in reads
        if "token_counts" not in s and "MAX(seq)" not in s and not s.startswith("SELECT meta_json")
    ]
    assert state == message_reads, reads
    # two prompt counts: before the reply (does it fit?) and after it (the usage)
    assert session.counts.calls == 2
    # the counter only tokenizes what is new: the new message, the reply, their framing
    assert 0 < codec.calls <= 6
    finished = [e for e in events if isinstance(e, TurnFinished)]
    assert len(finished) == 1 and finished[0].usage is not None
    assert finished[0].usage == session.usage()  # the carried figure is the true one


def test_the_compression_check_reuses_the_carried_usage(store, settings) -> None:
    session, _codec = open_chat(store, settings, turns=3)
    finished = [e for e in session.send("next", CancelToken()) if isinstance(e, TurnFinished)]
    session.counts.calls = 0
    assert not session.needs_compression(finished[0].usage)
    assert session.counts.calls == 0  # below the trigger: nothing was counted again
