"""Exact token counts for the loaded model, with the one fallback in one place.

The cached counter of ``session/accounting.py`` counts when its tokenizer is the loaded
model's (fast: per-message counts are cached); otherwise, or when the counter refuses the
messages (a template error), the engine counts. Every count the context manager makes goes
through here, so there is exactly one way a count is made and one place it can be traced.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ollm_tui.engine.base import Backend, ChatMessage

if TYPE_CHECKING:
    from ollm_tui.core.tokens import Breakdown, TokenCounter
    from ollm_tui.session.accounting import Accounting

log = logging.getLogger("ollm.tokens")

PROBE: list[ChatMessage] = [{"role": "user", "content": "."}]
"""The one-message conversation a system prompt's cost is measured against."""


class PromptCounts:
    """Counts prompts, system prompts and texts for whatever model the engine has loaded."""

    def __init__(self, engine: Backend, accounting: Accounting | None = None) -> None:
        self.engine = engine
        self.accounting = accounting
        """Exact, cached counts (set by the app and ``-p``); None: the engine counts."""
        self.calls = 0
        """Counts made (prompts, system prompts and texts); a test reads it per turn."""

    @property
    def counter(self) -> TokenCounter | None:
        """The cached counter, when it counts for the model the engine has loaded."""
        info = self.engine.info
        if self.accounting is None or info is None:
            return None
        return self.accounting.counter_for(info.path)

    @property
    def exact(self) -> bool:
        """False when the counter only estimates (a server model without a tokenizer)."""
        counter = self.counter
        return counter is None or counter.codec.exact

    def breakdown(self, prompt: Sequence[ChatMessage]) -> Breakdown | None:
        """The counter's part-by-part count of ``prompt`` (None: no cached counter)."""
        counter = self.counter
        if counter is None:
            return None
        try:
            self.calls += 1
            return counter.count(prompt)  # type: ignore[arg-type]
        except Exception:  # e.g. a template refusing the messages: the engine says why
            log.warning("cached count failed; asking the engine", exc_info=True)
            return None

    def total(self, prompt: Sequence[ChatMessage]) -> int:
        """Exact prompt tokens ``stream`` would feed for ``prompt``."""
        breakdown = self.breakdown(prompt)
        if breakdown is not None:
            return breakdown.total
        self.calls += 1
        return self.engine.count_prompt_tokens(prompt)

    def system(self, text: str) -> int:
        """What a system message with ``text`` adds to a prompt (0 for none)."""
        if not text:
            return 0
        counter = self.counter
        if counter is not None:
            try:
                self.calls += 1
                return counter.system_tokens(text)
            except Exception:
                log.warning("cached system count failed; asking the engine", exc_info=True)
        with_system: list[ChatMessage] = [{"role": "system", "content": text}, *PROBE]
        return max(0, self.total(with_system) - self.total(PROBE))

    def text(self, text: str) -> int:
        """Exact tokens of a plain text (a summary) with the loaded model's tokenizer."""
        counter = self.counter
        if counter is not None:
            try:
                self.calls += 1
                return counter.codec.count(text)
            except Exception:
                log.warning("cached text count failed; asking the engine", exc_info=True)
        self.calls += 1
        tokens = self.engine.tokenize(text)
        if tokens is not None:
            return len(tokens)
        probe: list[ChatMessage] = [{"role": "user", "content": text}]  # a server without one
        empty: list[ChatMessage] = [{"role": "user", "content": ""}]
        return max(0, self.total(probe) - self.total(empty))

    def per_message(self, prompt: Sequence[ChatMessage], first: int) -> list[int]:
        """Tokens of each message of ``prompt`` from index ``first`` on (with framing)."""
        breakdown = self.breakdown(prompt)
        if breakdown is not None:
            return [breakdown.message_tokens(i) for i in range(first, len(prompt))]
        self.calls += len(prompt) - first
        return [self.engine.count_prompt_tokens([m]) for m in prompt[first:]]
