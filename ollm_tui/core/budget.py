"""The context budget and how full it is (CONTEXT-SPEC, Token accounting).

Budget = effective limit - system prompt - checkpoints - reply reserve, where the reply
reserve is 1024 tokens or a quarter of the limit, whichever is smaller. "Used" is what the
conversation takes of the prompt: every token the engine is fed except the system
prompt's (template framing and the reply opener included), so used <= budget exactly when
the prompt plus the reply reserve fits the context window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Band = Literal["low", "mid", "high"]
"""How full the budget is: below 60 %, 60-80 %, above 80 %."""

MID_AT = 60.0
HIGH_AT = 80.0


def reply_reserve(limit: int, cap: int = 1024) -> int:
    """Tokens kept free for the reply: ``cap`` or a quarter of the limit, the smaller."""
    return max(0, min(cap, limit // 4))


def band_of(percent: float) -> Band:
    """The colour band of a fill percentage."""
    if percent > HIGH_AT:
        return "high"
    if percent >= MID_AT:
        return "mid"
    return "low"


@dataclass(frozen=True)
class Budget:
    """What the conversation may use of the context window."""

    limit: int
    """The effective context limit (the engine's ``n_ctx``)."""
    system: int
    """Tokens of the system prompt."""
    checkpoints: int
    """Tokens of the checkpoint summaries (none until compression exists)."""
    reserve: int
    """Tokens kept free for the reply."""

    @property
    def available(self) -> int:
        """The budget: what is left for the conversation."""
        return max(0, self.limit - self.system - self.checkpoints - self.reserve)


def make_budget(limit: int, system: int, checkpoints: int = 0, reserve_cap: int = 1024) -> Budget:
    """The budget for a context limit, with the reply reserve from the spec."""
    return Budget(limit, system, checkpoints, reply_reserve(limit, reserve_cap))


@dataclass(frozen=True)
class Usage:
    """How much of the budget the conversation takes."""

    used: int
    budget: Budget
    exact: bool = True
    """False while part of ``used`` is an estimate (typing, streaming)."""

    @property
    def percent(self) -> float:
        """Used as a percentage of the budget (100+ when over it; 100 for an empty budget)."""
        available = self.budget.available
        if available <= 0:
            return 100.0
        return 100.0 * self.used / available

    @property
    def band(self) -> Band:
        """The colour band."""
        return band_of(self.percent)

    def plus(self, tokens: int) -> Usage:
        """The same usage with ``tokens`` more, marked as estimated."""
        if tokens <= 0:
            return self
        return Usage(self.used + tokens, self.budget, exact=False)
