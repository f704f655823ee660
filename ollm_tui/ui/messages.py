"""App-wide Textual messages (widget-specific ones live in their widget's class)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from ollm_tui.session.chat import CompressionEvent, TurnFinished, TurnStarted

if TYPE_CHECKING:
    from ollm_tui.ui.compressing import Compression
    from ollm_tui.ui.generation import Turn


class TurnBegan(Message):
    """The store now holds the user's message (if any) and the empty reply."""

    def __init__(self, turn: Turn, event: TurnStarted) -> None:
        super().__init__()
        self.turn = turn
        self.event = event


class TurnEnded(Message):
    """The reply is finished (complete, stopped, or failed with an engine error)."""

    def __init__(self, turn: Turn, event: TurnFinished) -> None:
        super().__init__()
        self.turn = turn
        self.event = event


class TurnFailed(Message):
    """The turn could not run (``too_long``: the message cannot fit) or broke unexpectedly."""

    def __init__(self, turn: Turn, reason: str, too_long: bool = False) -> None:
        super().__init__()
        self.turn = turn
        self.reason = reason
        self.too_long = too_long
        self.started = turn.started
        """Whether the store had the turn when it failed."""


class CompressionNote(Message):
    """A compression started, took a step or finished (``event``).

    ``job`` is the compression the app started (auto or "compress now"); None when the
    session compressed on its own inside a turn (the emergency ladder before a reply).
    """

    def __init__(self, event: CompressionEvent, job: Compression | None = None) -> None:
        super().__init__()
        self.event = event
        self.job = job
