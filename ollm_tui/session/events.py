"""The plain events the headless session reports (no Textual): turns, compression, context.

``ChatSession.send``/``regenerate`` yield ``TurnEvent``s; the ``ContextManager`` reports
``ContextEvent``s to its listener. The app turns each into a Textual message and, where
the user should know, a notification (the brief's "emits memory-level warnings as UI
notifications"); ``ollm -p`` prints the notices to stderr.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Literal

from ollm_tui.core.budget import Usage
from ollm_tui.core.compression import Outcome
from ollm_tui.core.conversation import Checkpoint
from ollm_tui.core.memory_guard import LevelChange
from ollm_tui.engine.base import Done
from ollm_tui.store.db import Message


@dataclass(frozen=True)
class TurnStarted:
    """The user message (None when regenerating) and the empty reply are stored."""

    user: Message | None
    reply: Message


@dataclass(frozen=True)
class TurnDelta:
    """More reply text."""

    text: str


@dataclass(frozen=True)
class TurnFinished:
    """The reply as stored, the engine's figures (None on error), the error text, and how
    full the context is after the reply (None when it could not be counted). The meter and
    the compression check reuse ``usage``: nothing counts the chat again after a turn."""

    reply: Message
    done: Done | None
    error: str | None = None
    usage: Usage | None = None
    save_error: str | None = None
    """Why the reply could not be stored (disk full, read-only): ``reply`` then holds the
    text shown, and the store has only what was saved before (nothing earlier is lost)."""


@dataclass(frozen=True)
class CompressionStarted:
    """A compression begins: why ("auto", "manual" or "emergency") and how many messages
    it summarises (0 when the emergency ladder works on checkpoints only)."""

    reason: str
    messages: int


@dataclass(frozen=True)
class CompressionStep:
    """One notice while compressing: a ladder step, a retry, a fallback."""

    text: str


@dataclass(frozen=True)
class CompressionFinished:
    """A compression ended: the new checkpoint (None if none was written), the messages it
    covers, the prompt's tokens before and after, the time it took, and any error."""

    checkpoint: Checkpoint | None
    messages: int
    tokens_before: int
    tokens_after: int
    seconds: float
    error: str | None = None


CompressionEvent = CompressionStarted | CompressionStep | CompressionFinished
TurnEvent = TurnStarted | TurnDelta | TurnFinished | CompressionEvent


@dataclass(frozen=True)
class TierLocked:
    """The context tier of a chat was locked for the session (at load, or by a switch)."""

    chat_id: int
    label: str
    """``"4K"`` etc., or ``"server"`` for a server model (its server sets the context)."""
    n_ctx: int
    manual: bool
    reason: str


@dataclass(frozen=True)
class UsageChanged:
    """How full a chat's context budget is now (after a turn, a compression, an undo)."""

    chat_id: int
    usage: Usage


@dataclass(frozen=True)
class MemoryLevelChanged:
    """The memory level of the device the model lives on changed (one per change)."""

    change: LevelChange


@dataclass(frozen=True)
class Notice:
    """Something the user should be told (the UI shows a toast; ``-p`` prints to stderr)."""

    text: str
    severity: Literal["information", "warning", "error"] = "information"


ContextEvent = TierLocked | UsageChanged | MemoryLevelChanged | Notice


def steps(gen: Generator[str, None, Outcome]) -> Generator[CompressionStep, None, Outcome]:
    """Turn a compression step's notices into ``CompressionStep`` events; return its outcome."""
    while True:
        try:
            text = next(gen)
        except StopIteration as stop:
            outcome: Outcome = stop.value
            return outcome
        yield CompressionStep(text)
