"""The llama-cpp-python engine on the real starter and Gemma models."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from ollm_tui.engine.base import (
    CancelToken,
    ContextOverflowError,
    Delta,
    Done,
    GenParams,
    ModelLoadError,
)
from ollm_tui.engine.llama.engine import LlamaEngine
from tests.integration.conftest import OPTIONS

GREEDY = GenParams(temperature=0.0, max_tokens=48, seed=1)


def ask(text: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": text},
    ]


def collect(engine, messages, params=GREEDY, cancel=None):
    events = list(engine.stream(messages, params, cancel or CancelToken()))
    text = "".join(e.text for e in events if isinstance(e, Delta))
    done = events[-1]
    assert isinstance(done, Done)
    assert sum(isinstance(e, Done) for e in events) == 1
    return text, done, events


def test_streams_a_sensible_answer(smollm) -> None:
    text, done, events = collect(smollm, ask("What is the capital of France?"))
    assert "Paris" in text
    assert sum(isinstance(e, Delta) for e in events) > 1  # streamed, not one blob
    assert done.finish_reason == "stop" and done.completion_tokens > 1
    assert done.ttft_s > 0 and done.tokens_per_s > 0


def test_prompt_tokens_reported_equal_the_exact_count(smollm) -> None:
    msgs = ask("Count me exactly, please: naïve café, 東京, ```code```")
    _, done, _ = collect(smollm, msgs)
    assert done.prompt_tokens == smollm.count_prompt_tokens(msgs)


def test_only_new_tokens_are_evaluated_on_the_next_turn(smollm) -> None:
    first = ask("Name a fruit.")
    reply, _, _ = collect(smollm, first)
    second = [
        *first,
        {"role": "assistant", "content": reply},
        {"role": "user", "content": "Another one?"},
    ]
    _, done, _ = collect(smollm, second)
    assert done.evaluated_prompt_tokens < done.prompt_tokens // 2


def test_cancel_during_decode_stops_within_half_a_second(smollm) -> None:
    cancel = CancelToken()
    stamps: list[float] = []
    params = GenParams(temperature=0.8, max_tokens=400, seed=3)
    events = []
    for event in smollm.stream(ask("Write a very long story about a dragon."), params, cancel):
        events.append(event)
        if isinstance(event, Delta) and len(events) == 5:
            stamps.append(time.perf_counter())
            cancel.cancel()
    stamps.append(time.perf_counter())
    done = events[-1]
    assert done.finish_reason == "cancelled" and done.stopped
    assert stamps[1] - stamps[0] < 0.5
    assert done.completion_tokens < 20
    text, after, _ = collect(smollm, ask("What is the capital of France?"))  # the next call works
    assert "Paris" in text and after.finish_reason == "stop"


def test_cancel_during_a_long_prefill_stops_within_half_a_second(smollm) -> None:
    long_prompt = ask("Summarise: " + "the quick brown fox jumps over the lazy dog. " * 150)
    assert smollm.count_prompt_tokens(long_prompt) > 1200  # several seconds of prefill on 1 thread
    cancel = CancelToken()
    timer = threading.Timer(0.3, cancel.cancel)
    start = time.perf_counter()
    timer.start()
    _, done, events = collect(smollm, long_prompt, cancel=cancel)
    elapsed = time.perf_counter() - start
    assert done.finish_reason == "cancelled"
    assert not any(isinstance(e, Delta) for e in events)
    assert elapsed < 0.3 + 0.5
    text, _, _ = collect(smollm, ask("What is the capital of France?"))
    assert "Paris" in text


def test_prompt_larger_than_the_window_is_a_clear_error(smollm) -> None:
    huge = ask("word " * 3000)
    with pytest.raises(ContextOverflowError, match="context holds 2048"):
        collect(smollm, huge)


def test_gemma_base_model_uses_its_profile_format(gemma_path: Path, profiles) -> None:
    engine = LlamaEngine(profiles)
    try:
        info = engine.load(gemma_path, OPTIONS)
        assert info.chat_format == "gemma"
        assert "no chat template" in info.format_note and "Gemma 3 profile" in info.format_note
        tokens, stop = engine.prompt_tokens(ask("Say hello."))
        assert stop == ("<end_of_turn>",)
        # the turn markers are single special tokens, and BOS comes first exactly once
        text = engine._llm.detokenize(tokens, special=True).decode()
        assert text.count("<start_of_turn>") == 2 and text.count("<bos>") == 1
        out, done, _ = collect(engine, ask("Say hello."), GenParams(temperature=0.0, max_tokens=24))
        assert done.prompt_tokens == len(tokens) == engine.count_prompt_tokens(ask("Say hello."))
        assert 1 <= done.completion_tokens <= 24
        assert "<start_of_turn>" not in out
    finally:
        engine.close()


def test_model_without_template_or_profile_gets_announced_fallback(gemma_path: Path) -> None:
    from ollm_tui.core.profiles import ProfileSet

    engine = LlamaEngine(ProfileSet())
    try:
        info = engine.load(gemma_path, OPTIONS)
        assert info.chat_format == "chatml"
        assert "fallback" in info.format_note
    finally:
        engine.close()


def test_switching_models_closes_the_previous_one(
    smollm_path: Path, gemma_path: Path, profiles
) -> None:
    engine = LlamaEngine(profiles)
    try:
        engine.load(smollm_path, OPTIONS)
        first = engine._llm
        engine.load(gemma_path, OPTIONS)
        assert first._ctx is None or getattr(first._ctx, "ctx", None) is None
        assert engine.info.name == "gemma-3-270m-q4_k_m"
    finally:
        engine.close()
    assert engine.info is None


@pytest.mark.parametrize(
    ("make_bad", "needle"),
    [
        (lambda p, src: p.write_text("hello, not a model"), "not a GGUF file"),
        (lambda p, src: p.write_bytes(src.read_bytes()[:2_000_000]), "truncated"),
    ],
)
def test_bad_model_files_fail_to_load_with_a_clear_message(
    tmp_path, smollm_path, profiles, make_bad, needle
):
    bad = tmp_path / "bad.gguf"
    make_bad(bad, smollm_path)
    engine = LlamaEngine(profiles)
    with pytest.raises(ModelLoadError, match=needle):
        engine.load(bad, OPTIONS)
    assert engine.info is None
    engine.load(smollm_path, OPTIONS)  # still usable afterwards
    engine.close()
