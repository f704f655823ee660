"""The store when its folder or disk cannot be used (issue 12): plain errors, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollm_tui.engine.base import CancelToken, LoadOptions
from ollm_tui.session.chat import ChatSession, TurnFinished
from ollm_tui.store.db import DatabaseDamaged, Store, StoreUnusable
from ollm_tui.store.sqlite import set_aside
from tests.fakes import FakeEngine


def test_a_file_in_place_of_the_data_folder_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnusable, match="it is a file, not a folder; move that file away"):
        Store(blocker / "ollm.db")


def test_a_write_refused_by_a_full_disk_keeps_the_reply_and_what_was_stored(settings) -> None:
    store = Store(settings.db_path)
    engine = FakeEngine(reply="one two three four")
    engine.load(Path("/m.gguf"), LoadOptions(n_ctx=2048))
    chat = store.create_chat("c")
    session = ChatSession(store, engine, settings, chat)
    list(session.send("first", CancelToken()))
    before = store.messages(chat.id)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL on any growth
    engine.reply = " ".join(["long"] * 5000)
    events = list(session.send("second", CancelToken()))
    (finished,) = [e for e in events if isinstance(e, TurnFinished)]
    assert finished.save_error and "disk is full" in finished.save_error
    assert str(settings.db_path) in finished.save_error
    assert finished.reply.content == engine.reply  # the whole reply, for the screen
    assert [m.content for m in store.messages(chat.id)][: len(before)] == [
        m.content for m in before
    ]
    store.close()


def test_garbage_is_damaged_and_can_be_set_aside(settings) -> None:
    settings.db_path.parent.mkdir(parents=True)
    settings.db_path.write_bytes(b"garbage" * 1000)
    with pytest.raises(DatabaseDamaged):
        Store(settings.db_path)
    moved = set_aside(settings.db_path, now=0)
    assert (
        moved
        and moved[0].name.startswith("ollm.db.damaged-")
        and moved[0].read_bytes() == b"garbage" * 1000
    )
    Store(settings.db_path).close()
