"""One turn of generation, seen from both sides of the thread boundary.

The worker thread runs ``run_turn``: it iterates ``ChatSession.send``/``regenerate`` and
appends reply text to a ``StreamBuffer`` (no call into the UI per token). The reply widget
drains that buffer on a 100 ms timer. The turn's start, end and failure reach the app as
messages (``post_message`` is thread-safe and never blocks the worker).
"""

from __future__ import annotations

import gc
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ollm_tui.engine.base import CancelToken
from ollm_tui.session.chat import (
    ChatSession,
    CompressionFinished,
    CompressionStarted,
    CompressionStep,
    MessageTooLong,
    TurnDelta,
    TurnFinished,
    TurnStarted,
)
from ollm_tui.ui.messages import CompressionNote, TurnBegan, TurnEnded, TurnFailed

if TYPE_CHECKING:
    from textual.message import Message as TextualMessage
    from textual.worker import Worker

    from ollm_tui.core.budget import Usage


_turn_ids = itertools.count(1)

_FULL_GC_HELD = 10**6
"""Second-generation threshold while a reply streams: no full collections."""


class FullCollections:
    """Holds Python's full (generation 2) garbage collections off while replies stream.

    A full collection walks every object the app has made: with a long chat on screen it
    takes 100-250 ms, a visible stall in the middle of a stream. Young generations are
    still collected; the held-off full collection runs after the reply, on an idle screen.
    """

    def __init__(self) -> None:
        self._saved: tuple[int, int, int] | None = None

    def hold(self) -> None:
        """No full collections until :meth:`release` (idempotent)."""
        if self._saved is None:
            self._saved = gc.get_threshold()
            gc.set_threshold(self._saved[0], self._saved[1], _FULL_GC_HELD)

    def release(self) -> None:
        """Back to the thresholds before :meth:`hold`."""
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None


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
    """A generation in progress: what it runs and how to stop it (the chat screen shows it,
    finding its widgets by ``id``)."""

    session: ChatSession
    text: str | None
    """The user's new message; None when regenerating the last reply."""
    id: int = field(default_factory=lambda: next(_turn_ids))
    """Names the turn in the messages about it."""
    cancel: CancelToken = field(default_factory=CancelToken)
    buffer: StreamBuffer = field(default_factory=StreamBuffer)
    started: bool = False
    """True once the store holds the turn (set by the worker thread)."""
    complete: bool = False
    """True once the reply finished whole: not stopped, no error (set by the worker)."""
    usage: Usage | None = None
    """How full the context is after the reply (set by the worker; the compression check
    reuses it)."""
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

    ``post`` delivers ``TurnBegan``, ``TurnEnded`` or ``TurnFailed`` to the app, and a
    ``CompressionNote`` for each compression event the session yields before the reply (the
    emergency ladder, when the new message would not fit otherwise).
    """
    chat_id = turn.chat_id

    def failed(reason: str, too_long: bool) -> TurnFailed:
        return TurnFailed(
            chat_id, turn.id, reason, too_long=too_long, started=turn.started, text=turn.text
        )

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
                post(TurnBegan(chat_id, turn.id, event.user, event.reply))
            elif isinstance(event, TurnFinished):
                stopped = event.reply.status != "complete"
                turn.complete = event.error is None and not stopped
                turn.usage = event.usage
                post(
                    TurnEnded(
                        chat_id,
                        turn.id,
                        event.reply,
                        event.done,
                        event.error,
                        event.usage,
                        event.save_error,
                    )
                )
            elif isinstance(event, CompressionStarted | CompressionStep | CompressionFinished):
                post(CompressionNote(chat_id, event))
    except MessageTooLong as exc:
        post(failed(str(exc), True))
    except Exception as exc:  # noqa: BLE001 - a model error must never crash the app
        post(failed(describe(exc), False))
