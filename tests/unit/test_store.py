"""The SQLite store: schema, chats, messages, crash recovery, persistence."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from ollm_tui.store.db import SCHEMA_VERSION, Store, StoreError


def test_schema_is_versioned_and_wal(settings) -> None:
    s = Store(settings.db_path)
    assert s.schema_version == SCHEMA_VERSION >= 1
    mode = sqlite3.connect(settings.db_path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    s.close()


def test_chat_lifecycle(store: Store) -> None:
    a = store.create_chat("first")
    b = store.create_chat("second")
    assert [c.title for c in store.list_chats()] == ["second", "first"]
    store.add_message(a.id, "user", "hello")  # using a chat moves it to the top
    assert next(c.title for c in store.list_chats()) == "first"
    store.rename_chat(b.id, "renamed")
    assert store.get_chat(b.id).title == "renamed"
    assert store.find_chat("renamed").id == b.id
    with pytest.raises(ValueError, match="cannot be empty"):
        store.rename_chat(b.id, "   ")
    store.delete_chat(a.id)
    assert store.get_chat(a.id) is None
    assert store.messages(a.id) == []  # cascade


def test_most_recent_chat_is_the_first_of_the_list(store: Store) -> None:
    assert store.most_recent_chat() is None
    a = store.create_chat("first")
    b = store.create_chat("second")
    store.update_chat_settings(b.id, tier=8192)
    assert store.most_recent_chat() == store.list_chats()[0]
    assert store.most_recent_chat().settings == {"tier": 8192}
    store.add_message(a.id, "user", "hello")  # using a chat moves it to the top
    assert store.most_recent_chat() == store.list_chats()[0]
    assert store.most_recent_chat().id == a.id


def test_messages_keep_order_status_and_meta(store: Store) -> None:
    chat = store.create_chat()
    u = store.add_message(chat.id, "user", "q")
    r = store.add_message(chat.id, "assistant", "", status="streaming", meta={"model": "m"})
    store.update_message(r.id, content="partial", status="stopped", meta={"ttft_s": 0.1})
    msgs = store.messages(chat.id)
    assert [m.seq for m in msgs] == [1, 2]
    assert msgs[0].id == u.id
    assert (msgs[1].content, msgs[1].status) == ("partial", "stopped")
    assert msgs[1].meta == {"model": "m", "ttft_s": 0.1}


def test_everything_survives_reopen_and_streaming_becomes_interrupted(settings) -> None:
    s = Store(settings.db_path)
    chat = s.create_chat("keep me")
    s.add_message(chat.id, "user", "question")
    s.add_message(chat.id, "assistant", "half an ans", status="streaming")
    s.close()  # as if the app died mid-reply
    s2 = Store(settings.db_path)
    msgs = s2.messages(chat.id)
    assert [m.content for m in msgs] == ["question", "half an ans"]
    assert msgs[1].status == "interrupted"
    assert s2.get_chat(chat.id).title == "keep me"
    s2.close()


def test_newer_schema_is_refused(settings) -> None:
    settings.db_path.parent.mkdir(parents=True)
    db = sqlite3.connect(settings.db_path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer"):
        Store(settings.db_path)


def test_garbage_file_is_a_store_error(settings) -> None:
    settings.db_path.parent.mkdir(parents=True)
    settings.db_path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="is damaged"):
        Store(settings.db_path)


def test_writes_from_threads(store: Store) -> None:
    chat = store.create_chat()

    def write(n: int) -> None:
        for i in range(20):
            store.add_message(chat.id, "user", f"{n}-{i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    msgs = store.messages(chat.id)
    assert len(msgs) == 80
    assert sorted(m.seq for m in msgs) == list(range(1, 81))


def test_ids_are_never_reused_after_a_delete(store: Store) -> None:
    """Per-chat files (KV state, exports) are keyed by id: a new chat must not inherit one."""
    a = store.create_chat("a")
    b = store.create_chat("b")
    store.delete_chat(b.id)
    c = store.create_chat("c")
    assert c.id not in (a.id, b.id)
    m = store.add_message(c.id, "user", "x")
    store.delete_message(m.id)
    assert store.add_message(c.id, "user", "y").id != m.id
