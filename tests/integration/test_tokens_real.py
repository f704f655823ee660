"""Exact token counts on both real models: they equal the engine's own prompt tokens.

The counter uses a vocabulary-only second load of the model (as the app does), the engine
its full model; the totals must agree for any message list, the parts must add up to the
total, and an edit must change only the edited message's part.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ollm_tui.core.token_cache import TokenCache
from ollm_tui.core.tokens import TokenCounter
from ollm_tui.engine.base import CancelToken, Done, GenParams
from ollm_tui.engine.llama.engine import LlamaEngine
from ollm_tui.engine.llama.tokenizer import CodecClosedError, load_codec
from ollm_tui.session.accounting import Accounting
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from tests.integration.conftest import OPTIONS

TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs", "Cc"), exclude_characters="\x00"
    ),
    max_size=60,
)
# The session never sends blank messages (``engine_messages`` drops them); a blank one would
# share its neighbour's part (the total stays exact, see test_parts_add_up...).
NONBLANK = TEXT.filter(lambda t: t.strip())
MESSAGES = st.lists(
    st.tuples(st.sampled_from(["user", "assistant"]), NONBLANK), min_size=1, max_size=6
).map(lambda pairs: [{"role": r, "content": c} for r, c in pairs])
ANY_MESSAGES = st.lists(
    st.tuples(st.sampled_from(["user", "assistant"]), TEXT), min_size=1, max_size=6
).map(lambda pairs: [{"role": r, "content": c} for r, c in pairs])
SYSTEM = st.one_of(st.just(""), TEXT)


def with_system(system: str, messages: list[dict[str, str]]) -> list[dict[str, str]]:
    return ([{"role": "system", "content": system}] if system else []) + messages


@pytest.fixture(scope="module", params=["smollm2", "gemma"])
def pair(request, smollm_path: Path, gemma_path: Path, profiles):
    """(engine with the full model, counter with a vocabulary-only load of the same model)."""
    path = smollm_path if request.param == "smollm2" else gemma_path
    engine = LlamaEngine(profiles)
    engine.load(path, OPTIONS)
    codec = engine.counting_codec()
    yield engine, TokenCounter(codec, TokenCache())
    codec.close()
    engine.close()


def test_count_equals_the_prompt_tokens_the_engine_reports(pair) -> None:
    engine, counter = pair
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue — like the sky. ```py\nprint('x')\n```"},
        {"role": "user", "content": "Another, please: naïve café 東京 🙂"},
    ]
    events = list(engine.stream(messages, GenParams(temperature=0.0, max_tokens=1), CancelToken()))
    done = events[-1]
    assert isinstance(done, Done)
    breakdown = counter.count(messages)
    assert breakdown.total == done.prompt_tokens
    assert breakdown.bos + sum(p.tokens for p in breakdown.parts) == breakdown.total
    # each message got a part of its own (Gemma folds the system prompt into the first turn)
    owned = [p.messages for p in breakdown.parts if p.messages]
    assert owned in ([(0,), (1,), (2,), (3,)], [(0, 1), (2,), (3,)])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(system=SYSTEM, messages=ANY_MESSAGES)
def test_parts_add_up_to_the_engine_count(pair, system, messages) -> None:
    engine, counter = pair
    messages = with_system(system, messages)
    breakdown = counter.count(messages)
    assert breakdown.total == engine.count_prompt_tokens(messages)
    assert breakdown.bos + sum(p.tokens for p in breakdown.parts) == breakdown.total
    assert (
        breakdown.overhead + sum(p.tokens for p in breakdown.parts if p.messages) == breakdown.total
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(messages=MESSAGES, data=st.data())
def test_an_edit_invalidates_only_the_edited_message(pair, messages, data) -> None:
    engine, counter = pair
    messages = with_system("Be brief.", messages)
    before = counter.count(messages)
    index = data.draw(st.integers(1, len(messages) - 1), label="edited")
    new_text = data.draw(
        NONBLANK.filter(lambda t: t != messages[index]["content"]), label="new text"
    )
    edited = [dict(m) for m in messages]
    edited[index]["content"] = new_text
    after = counter.count(edited)
    assert after.total == engine.count_prompt_tokens(edited)
    changed = {p.messages for p in after.parts} ^ {p.messages for p in before.parts} | {
        a.messages for a, b in zip(after.parts, before.parts, strict=False) if a.key != b.key
    }
    for owners in changed:
        assert not owners or index in owners, (owners, index)
    assert after.misses <= 1  # only the edited message's part was tokenized again


def test_cache_survives_a_restart_and_never_crosses_models(
    tmp_path: Path, smollm_path: Path, gemma_path: Path, profiles
) -> None:
    settings_ = Settings(data_dir=tmp_path, config_dir=tmp_path, log_dir=tmp_path)
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        *(
            {
                "role": "user" if i % 2 == 0 else "assistant",
                "content": f"Message {i}: the quick brown fox.",
            }
            for i in range(30)
        ),
    ]
    store = Store(settings_.db_path)
    accounting = Accounting(settings_, store)
    accounting.attach(load_codec(smollm_path, profiles))
    first = accounting.count(messages)
    assert first.misses == len(first.parts)
    accounting.detach()
    store.close()

    store = Store(settings_.db_path)  # a new process: empty memory, the same file
    accounting = Accounting(settings_, store)
    accounting.attach(load_codec(smollm_path, profiles))
    again = accounting.count(messages)
    assert again.total == first.total and again.misses == 0
    assert accounting.cache.stats.disk_hits >= len(first.parts)  # (and the system prompt probe)
    assert accounting.cache.stats.counted_chars == 0  # nothing was tokenized

    accounting.attach(load_codec(gemma_path, profiles))  # model switch: other tokenizer
    gemma = accounting.count(messages)
    assert gemma.misses == len(gemma.parts)  # nothing reused from SmolLM2
    engine = LlamaEngine(profiles)
    try:
        engine.load(gemma_path, OPTIONS)
        assert gemma.total == engine.count_prompt_tokens(messages) != first.total
    finally:
        engine.close()
        accounting.detach()
        store.close()


def test_a_closed_codec_refuses_to_count_instead_of_crashing(smollm_path: Path, profiles) -> None:
    codec = load_codec(smollm_path, profiles)
    assert codec.count("hello world") > 0
    codec.close()
    codec.close()  # twice is fine
    with pytest.raises(CodecClosedError):
        codec.count("hello world")
