"""The emergency ladder: what the context manager does when the next message would not fit.

Compress the messages outside the kept window; then re-summarise the largest checkpoint one
level down; then merge the two oldest checkpoints; then roll over to one summary and the
last few messages; then to one summary and the new message only; and, as a last resort,
leave the summary out. Each step is reported (``CompressionStep``) and the ladder stops as
soon as the prompt fits. Messages are never changed: only the chat's active context.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ollm_tui.core.compression import Outcome
from ollm_tui.core.conversation import ActiveContext, Checkpoint
from ollm_tui.engine.base import CancelToken, ChatMessage
from ollm_tui.session.events import (
    CompressionEvent,
    CompressionFinished,
    CompressionStarted,
    CompressionStep,
    steps,
)
from ollm_tui.store.db import Message

if TYPE_CHECKING:
    from ollm_tui.session.context import ContextManager


@dataclass(frozen=True)
class Emergency:
    """Where the ladder starts: the chat, the new message (None: regenerating), the active
    context, the verbatim window with its messages' tokens, the kept window's first index,
    and the prompt's tokens before."""

    history: Sequence[Message]
    pending: str | None
    active: ActiveContext
    window: list[Message]
    tokens: list[int]
    cut: int
    total: int


def run_ladder(
    manager: ContextManager, plan: Emergency, cancel: CancelToken
) -> Generator[CompressionEvent, None, list[ChatMessage]]:
    """Walk the ladder until the prompt for ``plan.pending`` fits; return that prompt."""
    history, pending, active = plan.history, plan.pending, plan.active
    yield CompressionStarted("emergency", plan.cut)
    start = time.perf_counter()
    compressor = manager.compressor(active, cancel)
    first: Checkpoint | None = None
    messages = 0
    keep_last = 0 if pending is not None else 1  # regenerate keeps the question it answers
    after_id = max((m.id for m in history), default=0)
    keep = manager.settings.rollover_keep_messages
    ladder: list[tuple[str, Callable[[ActiveContext], Generator[str, None, Outcome]]]] = [
        ("", lambda a: compressor.compress(a, plan.window, plan.tokens, plan.cut)),
        ("re-summarising the largest checkpoint one level down", compressor.shrink_largest),
        ("merging the two oldest checkpoints", compressor.merge_oldest),
        (
            f"rolling over: one summary and the last {keep} messages",
            lambda a: compressor.rollover(a, manager.window(history, a), keep, after_id),
        ),
        (
            "rolling over: one summary and the new message only",
            lambda a: compressor.rollover(a, manager.window(history, a), keep_last, after_id),
        ),
    ]
    fits, after = False, plan.total
    prompt: list[ChatMessage] = []
    try:
        for notice, step in ladder:
            if notice:
                yield CompressionStep(notice)
            outcome = yield from steps(step(active))
            active = outcome.active
            first = first or outcome.checkpoint
            messages += outcome.messages
            prompt = manager.render(history, active, pending)
            fits, after = manager.fits(prompt, manager.budget(active))
            if fits:
                break
    finally:
        manager.changed()
    if not fits:
        yield CompressionStep("leaving the summary out: the message needs the whole window")
        kept = manager.window(history, active)[-keep_last:] if keep_last else []
        kept_from = kept[0].id if kept else after_id + 1
        manager.set_active((), kept_from)
        prompt = manager.render(history, ActiveContext((), kept_from), pending)
        after = manager.counts.total(prompt)
    manager.compressed = True
    yield CompressionFinished(first, messages, plan.total, after, time.perf_counter() - start)
    return prompt
