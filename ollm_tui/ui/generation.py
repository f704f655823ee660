"""One turn of generation, seen from both sides of the thread boundary.

The worker thread runs ``run_turn``: it iterates ``ChatSession.send``/``regenerate`` and
appends reply text to a ``StreamBuffer`` (no call into the UI per token). The reply widget
drains that buffer on a 50 ms timer. The turn's start, end and failure reach the app as
messages (``post_message`` is thread-safe and never blocks the worker).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ollm_tui.engine.base import CancelToken
from ollm_tui.session import ChatSession, MessageTooLong, TurnDelta, TurnFinished, TurnStarted
from ollm_tui.ui.messages import TurnBegan, TurnEnded, TurnFailed

if TYPE_CHECKING:
    from textual.message import Message as TextualMessage
    from textual.worker import Worker

    from ollm_tui.ui.transcript import AssistantMessage, UserMessage


class StreamBuffer:
    """Reply text gathered by the worker thread until the UI takes it (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self.total_chars = 0
        """Characters appended so far."""
        self.appends = 0
        """Number of ``append`` calls (one per token, roughly)."""

    def append(self, text: str) -> None:
        """Add text (worker thread)."""
        with self._lock:
            self._parts.append(text)
            self.total_chars += len(text)
            self.appends += 1

    def drain(self) -> str:
        """Take everything gathered since the last drain ("" when nothing is new)."""
        with self._lock:
            text = "".join(self._parts)
            self._parts.clear()
        return text


@dataclass(eq=False)
class Turn:
    """A generation in progress: what it runs, how to stop it, where it shows."""

    session: ChatSession
    text: str | None
    """The user's new message; None when regenerating the last reply."""
    reply_view: AssistantMessage
    user_view: UserMessage | None = None
    cancel: CancelToken = field(default_factory=CancelToken)
    buffer: StreamBuffer = field(default_factory=StreamBuffer)
    started: bool = False
    """True once the store holds the turn (set by the worker thread)."""
    worker: Worker[None] | None = None
    """The thread worker running the turn."""

    @property
    def chat_id(self) -> int:
        """The chat the turn belongs to."""
        return self.session.chat.id

    def stop(self) -> None:
        """Ask the engine to stop (any thread)."""
        self.cancel.cancel()


def describe(exc: BaseException) -> str:
    """A one-line description of an unexpected error for a toast."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_turn(turn: Turn, post: Callable[[TextualMessage], object]) -> None:
    """Run ``turn`` to its end in the calling (worker) thread. Never raises ``Exception``.

    ``post`` delivers ``TurnBegan``, ``TurnEnded`` or ``TurnFailed`` to the app.
    """
    try:
        if turn.text is not None:
            events = turn.session.send(turn.text, turn.cancel)
        else:
            events = turn.session.regenerate(turn.cancel)
        for event in events:
            if isinstance(event, TurnDelta):
                turn.buffer.append(event.text)
            elif isinstance(event, TurnStarted):
                turn.started = True
                post(TurnBegan(turn, event))
            elif isinstance(event, TurnFinished):
                post(TurnEnded(turn, event))
            # Compression* events (an emergency compression before the prompt) need no
            # handling here: the transcript and meter are refreshed when the turn ends
    except MessageTooLong as exc:
        post(TurnFailed(turn, str(exc), too_long=True))
    except Exception as exc:  # noqa: BLE001 - a model error must never crash the app
        post(TurnFailed(turn, describe(exc)))
