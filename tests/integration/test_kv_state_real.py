"""Per-chat KV state on the starter model: save, leave, restore, continue identically."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ollm_tui.engine.base import CancelToken, ChatMessage, Delta, Done, GenParams, LoadOptions
from ollm_tui.engine.kv_state import ChatKvCache, KvStateStore
from ollm_tui.engine.llama.engine import LlamaEngine

OPTIONS = LoadOptions(n_ctx=2048, n_threads=1, n_threads_batch=1)
PARAMS = GenParams(temperature=0.0, max_tokens=24, seed=7)
HISTORY = " ".join(f"Item {i} is a {c} box." for i, c in enumerate(["red", "blue", "green"] * 12))
TURN1: list[ChatMessage] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": HISTORY + "\nWhat colour is item 4?"},
]


@pytest.fixture(autouse=True)
def _log_reaches_caplog(caplog):
    """The app's ``ollm`` logger stops propagation once logging is set up (by another test
    in the same run): hand its records to caplog directly."""
    logger = logging.getLogger("ollm")
    logger.addHandler(caplog.handler)
    yield
    logger.removeHandler(caplog.handler)


def reply(engine: LlamaEngine, messages: list[ChatMessage]) -> tuple[str, Done]:
    parts, done = [], None
    for event in engine.stream(messages, PARAMS, CancelToken()):
        if isinstance(event, Delta):
            parts.append(event.text)
        else:
            done = event
    assert done is not None
    return "".join(parts), done


def turn2(first: str) -> list[ChatMessage]:
    return [
        *TURN1,
        {"role": "assistant", "content": first},
        {"role": "user", "content": "And item 5?"},
    ]


def test_restored_state_continues_exactly_like_a_cache_that_never_left(
    smollm_path: Path, profiles, tmp_path: Path
) -> None:
    engine = LlamaEngine(profiles)
    engine.load(smollm_path, OPTIONS)
    kv = ChatKvCache(KvStateStore(tmp_path / "kv", 1 << 30), engine)
    first, done1 = reply(engine, TURN1)
    assert done1.evaluated_prompt_tokens == done1.prompt_tokens  # cold
    saved = kv.after_turn(1)
    assert saved is not None and saved.stat().st_size > 1_000_000
    messages = turn2(first)

    never_left, done_ref = reply(engine, messages)  # the reference: the live cache continues
    assert done_ref.evaluated_prompt_tokens < 30

    reply(engine, [{"role": "user", "content": "Something else entirely, to clobber the cache."}])
    report = kv.before_turn(1, messages)
    assert report.action == "restored" and report.tokens > done1.prompt_tokens
    again, done2 = reply(engine, messages)
    assert again == never_left
    assert done2.evaluated_prompt_tokens == done_ref.evaluated_prompt_tokens

    # a fresh engine (the app reopened) restores from the file too
    engine.close()
    engine.load(smollm_path, OPTIONS)
    fresh = ChatKvCache(KvStateStore(tmp_path / "kv", 1 << 30), engine)
    assert fresh.before_turn(1, messages).action == "restored"
    reopened, done3 = reply(engine, messages)
    assert reopened == never_left
    assert done3.evaluated_prompt_tokens == done_ref.evaluated_prompt_tokens
    engine.close()


def test_live_chat_costs_nothing_and_other_settings_do_not_match(
    smollm_path: Path, profiles, tmp_path: Path
) -> None:
    engine = LlamaEngine(profiles)
    engine.load(smollm_path, OPTIONS)
    kv = ChatKvCache(KvStateStore(tmp_path / "kv", 1 << 30), engine)
    first, _ = reply(engine, TURN1)
    kv.after_turn(1)
    assert kv.before_turn(1, turn2(first)).action == "live"  # no disk read
    key = engine.kv_key()
    engine.close()
    engine.load(smollm_path, LoadOptions(n_ctx=1024, n_threads=1, n_threads_batch=1))
    assert engine.kv_key() != key
    assert kv.before_turn(1, turn2(first)).action == "cold"  # saved for 2048 tokens
    engine.close()


def test_a_state_llama_cpp_refuses_is_discarded_and_the_turn_still_works(
    smollm_path: Path, profiles, tmp_path: Path, caplog
) -> None:
    engine = LlamaEngine(profiles)
    engine.load(smollm_path, OPTIONS)
    store = KvStateStore(tmp_path / "kv", 1 << 30)
    kv = ChatKvCache(store, engine)
    tokens = engine.prompt_tokens(TURN1)[0]
    key = engine.kv_key()
    assert key is not None
    path = store.save(3, key, tokens, b"\x01" * 5000)  # valid file, garbage state
    assert path is not None
    with caplog.at_level(logging.WARNING):
        report = kv.before_turn(3, TURN1)
    assert report.action == "cold" and not path.exists()
    assert "refused" in caplog.text
    text, done = reply(engine, TURN1)
    assert text and done.evaluated_prompt_tokens == done.prompt_tokens
    engine.close()
