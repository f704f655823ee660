"""Prefix stability in tokens, with the real tokenizers, and only new tokens evaluated.

The text of turn N+1's prompt extends turn N's (``tests/unit/test_prefix_stability.py``);
here the *token lists* are checked too, since a merge across the boundary would make the
engine re-evaluate. Known exceptions, documented in docs/performance.md, each costing one
token of re-evaluation: a reply that starts with whitespace merges with the newline that
opens the assistant's turn; the llama3 format on a tokenizer that is not Llama 3's.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ollm_tui.engine.base import CancelToken, LoadOptions
from ollm_tui.engine.kv_state import common_prefix
from ollm_tui.engine.llama.engine import LlamaEngine
from ollm_tui.session.chat import ChatSession, TurnFinished
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store

PIECES = [
    "hello",
    "world",
    "```py\nx = 1\n```",
    "東京",
    "café",
    "🙂",
    "two  spaces",
    "\n\nnew para",
    "- item\n",
    "**bold**",
    "1234",
    "a.b",
    "!",
    "?",
    ":",
    ")",
    "\t",
    "def f():\n    return 1",
    "<b>",
    "{}",
    "'quoted'",
]


def text(rng: random.Random, leading_space: bool = False) -> str:
    body = " ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12))).strip()
    return (rng.choice([" ", "\n", "\n\n", "  "]) + body) if leading_space else body


def worst_loss(engine: LlamaEngine, leading_space: bool, sequences: int = 60) -> int:
    """The most tokens of turn N's prompt that turn N+1's prompt does not start with."""
    worst = 0
    for seed in range(sequences):
        rng = random.Random(seed)
        messages = [{"role": "system", "content": text(rng)}]
        before: list[int] | None = None
        for _ in range(4):
            messages.append({"role": "user", "content": text(rng)})
            tokens = engine.prompt_tokens(messages)[0]
            if before is not None:
                worst = max(worst, len(before) - common_prefix(before, tokens))
            before = tokens
            messages.append({"role": "assistant", "content": text(rng, leading_space)})
    return worst


@pytest.mark.parametrize("fmt", [None, "chatml", "llama3", "plain", "gemma"])
def test_turn_tokens_extend_the_previous_turn(fmt, smollm_path, gemma_path, profiles) -> None:
    engine = LlamaEngine(profiles)
    path = gemma_path if fmt == "gemma" else smollm_path
    info = engine.load(
        path,
        LoadOptions(
            n_ctx=2048, n_threads=1, n_threads_batch=1, chat_format=None if fmt == "gemma" else fmt
        ),
    )
    assert info.chat_format == (fmt or "gguf template")
    try:
        # llama3's opener ends in "\n\n": the starter's GPT-2 pre-tokenizer reads a final
        # "\n\n" as one token but "\n\nText" as two (Llama 3's own tokenizer does not)
        assert worst_loss(engine, leading_space=False) == (1 if fmt == "llama3" else 0)
        assert worst_loss(engine, leading_space=True) <= 1  # the documented exception
    finally:
        engine.close()


def test_only_the_new_tokens_are_evaluated_turn_after_turn(smollm, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, config_dir=tmp_path, log_dir=tmp_path, temperature=0.0, max_tokens=30
    )
    store = Store(tmp_path / "ollm.db")
    session = ChatSession(store, smollm, settings, store.create_chat())
    questions = [
        "Name a fruit.",
        "Name a colour.",
        "Name an animal.",
        "Name a city.",
        "Name a tool.",
    ]
    previous = 0
    for number, question in enumerate(questions):
        finished = [e for e in session.send(question, CancelToken()) if isinstance(e, TurnFinished)]
        done = finished[0].done
        assert done is not None
        if number == 0:
            assert done.evaluated_prompt_tokens == done.prompt_tokens
        else:
            new = done.prompt_tokens - previous  # last reply + this message + turn markers
            reply = finished[0].reply.content
            slack = 1 if reply[:1].isspace() else 0
            assert 0 < done.evaluated_prompt_tokens <= new + slack
            assert done.evaluated_prompt_tokens < done.prompt_tokens / 2
        previous = done.prompt_tokens
    store.close()
