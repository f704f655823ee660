"""What the engine sees of a chat: checkpoints, the kept window, snapshots (pure data).

A chat's stored messages are never changed by compression. What changes is its **active
context**: the checkpoints (summaries of older messages, oldest first) and the first
stored message that is still sent verbatim (``kept_from_message_id``). The engine is fed
one system message -- the system prompt, then the summaries in a fixed format -- followed
by the kept messages and the new one. The summaries sit in the system message because
every template we ship accepts exactly one system message there (Gemma's format folds it
into the first user turn), and because the prompt's prefix then changes only when a
compression runs (prefix reuse keeps working between compressions).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

SUMMARY_HEADING = "Summary of earlier conversation (oldest first):"
"""The first line of the summaries block in the system message."""

LEVEL_NAMES = {0: "rolling", 1: "L1", 2: "L2", 3: "L3"}
"""Checkpoint levels as shown to users: 3 is the most detailed; 0 is tier 1's rolling summary."""


@dataclass(frozen=True)
class Checkpoint:
    """A summary of a run of stored messages."""

    id: int
    chat_id: int
    level: int
    """3, 2, 1 (detail levels of CONTEXT-SPEC); 0 = tier-1 rolling summary."""
    summary: str
    tokens: int
    """Exact tokens of the summary text with the loaded model's tokenizer."""
    first_message_id: int
    """First stored message covered (inclusive)."""
    last_message_id: int
    """Last stored message covered (inclusive)."""
    message_count: int
    """Original messages covered (after merges: the sum)."""
    created_at: float
    fallback: bool = False
    """True when the extractive fallback wrote it."""

    @property
    def level_name(self) -> str:
        """``"L3"``, ``"L2"``, ``"L1"`` or ``"rolling"``."""
        return LEVEL_NAMES.get(self.level, f"L{self.level}")

    @property
    def label(self) -> str:
        """One line for a transcript divider: ``"24 messages -> 412 tokens, L3"``."""
        noun = "message" if self.message_count == 1 else "messages"
        extra = ", extractive" if self.fallback else ""
        return f"{self.message_count} {noun} -> {self.tokens} tokens, {self.level_name}{extra}"


@dataclass(frozen=True)
class ActiveContext:
    """What of a chat the engine sees besides the system prompt and the new message."""

    checkpoints: tuple[Checkpoint, ...] = ()
    """Oldest first."""
    kept_from_message_id: int | None = None
    """First stored message sent verbatim (None: all of them)."""

    @property
    def checkpoint_ids(self) -> tuple[int, ...]:
        """The checkpoints' ids, oldest first."""
        return tuple(c.id for c in self.checkpoints)

    def keeps(self, message_id: int) -> bool:
        """True when the stored message ``message_id`` is sent verbatim."""
        return self.kept_from_message_id is None or message_id >= self.kept_from_message_id


@dataclass(frozen=True)
class Snapshot:
    """A saved active context that can be restored (undo)."""

    id: int
    chat_id: int
    created_at: float
    reason: str
    """``"before compression"``, ``"85% usage"``, ``"before rollover"``..."""
    checkpoint_count: int
    kept_from_message_id: int | None
    checkpoint_ids: tuple[int, ...] = ()
    """The active checkpoints it holds, oldest first."""

    @property
    def label(self) -> str:
        """One line for a picker: ``"10:42  before compression  (2 checkpoints)"``."""
        clock = time.strftime("%H:%M", time.localtime(self.created_at))
        noun = "checkpoint" if self.checkpoint_count == 1 else "checkpoints"
        return f"{clock}  {self.reason}  ({self.checkpoint_count} {noun})"


def summaries_block(checkpoints: Sequence[Checkpoint]) -> str:
    """The checkpoints as the text appended to the system prompt ("" for none)."""
    if not checkpoints:
        return ""
    lines = [SUMMARY_HEADING]
    lines += [f"[{i}] {c.summary.strip()}" for i, c in enumerate(checkpoints, 1)]
    return "\n".join(lines)


def system_text(system_prompt: str, checkpoints: Sequence[Checkpoint]) -> str:
    """The system message's text: the system prompt, then the summaries block."""
    block = summaries_block(checkpoints)
    if not block:
        return system_prompt
    return f"{system_prompt}\n\n{block}" if system_prompt else block
