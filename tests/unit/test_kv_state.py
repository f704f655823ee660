"""KV state files: the format round trip, rejection of broken or foreign files, the cap."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from ollm_tui.engine.kv_state import KvKey, KvStateStore, common_prefix, model_fingerprint

KEY = KvKey(model="m1", n_ctx=2048, template="t1", layout="l1")
TOKENS = [1, 42, 7, 99999, 3]
PAYLOAD = bytes(range(256)) * 40


@pytest.fixture(autouse=True)
def _log_reaches_caplog(caplog):
    """The app's ``ollm`` logger stops propagation once logging is set up (by another test
    in the same run): hand its records to caplog directly."""
    logger = logging.getLogger("ollm.kv_state")
    logger.addHandler(caplog.handler)
    yield
    logger.removeHandler(caplog.handler)


def saved(tmp_path: Path, cap: int = 1 << 30) -> tuple[KvStateStore, Path]:
    store = KvStateStore(tmp_path / "kv", cap)
    path = store.save(5, KEY, TOKENS, PAYLOAD)
    assert path is not None and path.exists()
    return store, path


def test_round_trip(tmp_path: Path) -> None:
    store, path = saved(tmp_path)
    state = store.peek(5, KEY)
    assert state is not None and state.tokens == TOKENS and state.path == path
    assert bytes(store.read_payload(state) or b"") == PAYLOAD
    assert [p.name for p in store.files()] == [path.name]
    assert not list(path.parent.glob("*.tmp")), "the temporary file was renamed into place"


def test_ctypes_payload_and_no_file_for_other_chats(tmp_path: Path) -> None:
    import ctypes

    store = KvStateStore(tmp_path / "kv", 1 << 30)
    buf = (ctypes.c_uint8 * 10).from_buffer_copy(b"0123456789")
    store.save(1, KEY, [5], buf)
    state = store.peek(1, KEY)
    assert state is not None and bytes(store.read_payload(state) or b"") == b"0123456789"
    assert store.peek(2, KEY) is None
    assert store.peek(1, KvKey("m1", 4096, "t1", "l1")) is None  # another context size


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b[: len(b) - 100], "truncated"),
        (lambda b: b[:10], "truncated before the header"),
        (lambda b: b"NOTMAGIC" + b[8:], "not a KV state file"),
        (lambda b: b[:8] + (2).to_bytes(4, "little") + b[12:], "format version 2"),
        (lambda b: b + b"extra", "expected"),
    ],
)
def test_broken_files_are_discarded_and_logged(tmp_path, caplog, damage, reason) -> None:
    store, path = saved(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="ollm.kv_state"):
        assert store.peek(5, KEY) is None
    assert not path.exists()
    assert reason in caplog.text and str(path) in caplog.text


def test_corrupt_payload_is_caught_by_its_checksum(tmp_path, caplog) -> None:
    store, path = saved(tmp_path)
    state = store.peek(5, KEY)
    assert state is not None
    data = bytearray(path.read_bytes())
    data[-7] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="ollm.kv_state"):
        assert store.read_payload(state) is None
    assert not path.exists() and "payload checksum mismatch" in caplog.text


def test_corrupt_token_list_is_caught(tmp_path, caplog) -> None:
    store, path = saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) - len(PAYLOAD) - 3] ^= 0x01  # inside the token list
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="ollm.kv_state"):
        assert store.peek(5, KEY) is None
    assert not path.exists() and "token list checksum" in caplog.text


@pytest.mark.parametrize(
    ("chat", "key"),
    [
        (6, KEY),  # a file copied to another chat's name
        (5, KvKey("m2", 2048, "t1", "l1")),  # another model
        (5, KvKey("m1", 2048, "t2", "l1")),  # another chat format
        (5, KvKey("m1", 2048, "t1", "l2")),  # another KV layout
    ],
)
def test_a_file_for_another_chat_or_key_is_discarded(tmp_path, caplog, chat, key) -> None:
    store, path = saved(tmp_path)
    foreign = store.path_for(chat, key)
    shutil.copy(path, foreign)
    with caplog.at_level(logging.WARNING, logger="ollm.kv_state"):
        assert store.peek(chat, key) is None
    assert not foreign.exists() and "another chat" in caplog.text
    assert store.peek(5, KEY) is not None  # the right file is untouched


def test_eviction_keeps_the_cap_least_recently_used_first(tmp_path: Path) -> None:
    one = KvStateStore(tmp_path / "probe", 1 << 30).save(1, KEY, TOKENS, PAYLOAD)
    assert one is not None
    size = one.stat().st_size
    store = KvStateStore(tmp_path / "kv", 3 * size + size // 2)  # room for three files
    paths = {}
    for chat in range(1, 4):
        paths[chat] = store.save(chat, KEY, TOKENS, PAYLOAD)
        os.utime(paths[chat], (1000 + chat, 1000 + chat))  # 1 oldest, 3 newest
    state = store.peek(1, KEY)
    assert state is not None and store.read_payload(state) is not None  # use refreshes chat 1
    store.save(4, KEY, TOKENS, PAYLOAD)
    assert store.total_bytes() <= store.max_bytes
    left = {p.name for p in store.files()}
    assert paths[2].name not in left, "the least recently used file went first"
    assert {paths[1].name, paths[3].name, store.path_for(4, KEY).name} == left
    for chat in range(5, 12):
        store.save(chat, KEY, TOKENS, PAYLOAD)
        assert store.total_bytes() <= store.max_bytes
        assert store.path_for(chat, KEY).exists(), "the file just written is kept"


def test_no_saving_when_off_or_over_the_cap(tmp_path: Path) -> None:
    assert KvStateStore(tmp_path / "off", 0).save(1, KEY, TOKENS, PAYLOAD) is None
    assert not (tmp_path / "off").exists()
    small = KvStateStore(tmp_path / "small", 1000)
    assert small.save(1, KEY, TOKENS, PAYLOAD) is None
    assert small.files() == []


def test_forget_chat_and_clear(tmp_path: Path) -> None:
    store, _ = saved(tmp_path)
    store.save(6, KEY, TOKENS, PAYLOAD)
    store.save(5, KvKey("m1", 4096, "t1", "l1"), TOKENS, PAYLOAD)
    store.forget_chat(5)
    assert [p.name for p in store.files()] == [store.path_for(6, KEY).name]
    store.clear()
    assert store.files() == []


def test_unwritable_folder_is_logged_not_raised(tmp_path, caplog) -> None:
    blocker = tmp_path / "kv"
    blocker.write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING, logger="ollm.kv_state"):
        assert KvStateStore(blocker, 1 << 30).save(1, KEY, TOKENS, PAYLOAD) is None
    assert "could not save" in caplog.text


def test_helpers(tmp_path: Path) -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0
    a = tmp_path / "a.gguf"
    a.write_bytes(b"x" * 3_000_000)
    before = model_fingerprint(a)
    with open(a, "r+b") as f:
        f.seek(2_999_000)
        f.write(b"y")
    assert model_fingerprint(a) != before
    assert (
        KEY.digest()
        == KvKey("m1", 2048, "t1", "l1").digest()
        != KvKey("m1", 2049, "t1", "l1").digest()
    )
