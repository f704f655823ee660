"""App-wide Textual messages (widget-specific ones live in their widget's class).

They carry data only: ids (the chat, the turn or the compression job), stored rows
(``Message``), the engine's ``Done`` figures and error text. The chat screen finds its
widgets by the turn's id; nothing here holds a session, a widget or a buffer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message as TextualMessage

from ollm_tui.session.chat import CompressionEvent
from ollm_tui.session.events import ContextEvent

if TYPE_CHECKING:
    from ollm_tui.core.budget import Usage
    from ollm_tui.engine.base import Done
    from ollm_tui.store.db import Message


class TurnBegan(TextualMessage):
    """The store now holds the user's message (None when regenerating) and the empty reply."""

    def __init__(self, chat_id: int, turn_id: int, user: Message | None, reply: Message) -> None:
        super().__init__()
        self.chat_id = chat_id
        self.turn_id = turn_id
        self.user = user
        self.reply = reply


class TurnEnded(TextualMessage):
    """The reply is finished (complete, stopped, or failed with an engine error): the reply
    as stored, the engine's figures (None on error), the error text, the usage after the
    reply, and why the reply could not be saved (disk full)."""

    def __init__(
        self,
        chat_id: int,
        turn_id: int,
        reply: Message,
        done: Done | None,
        error: str | None,
        usage: Usage | None = None,
        save_error: str | None = None,
    ) -> None:
        super().__init__()
        self.chat_id = chat_id
        self.turn_id = turn_id
        self.reply = reply
        self.done = done
        self.error = error
        self.usage = usage
        """How full the context is after the reply (counted once, in the worker)."""
        self.save_error = save_error
        """Why the reply could not be stored (it is shown all the same)."""


class TurnFailed(TextualMessage):
    """The turn could not run (``too_long``: the message cannot fit) or broke unexpectedly.

    ``started``: the store had the turn when it failed; ``text``: the user's message (None
    when regenerating), for the composer when it was not stored.
    """

    def __init__(
        self,
        chat_id: int,
        turn_id: int,
        reason: str,
        *,
        too_long: bool = False,
        started: bool = False,
        text: str | None = None,
    ) -> None:
        super().__init__()
        self.chat_id = chat_id
        self.turn_id = turn_id
        self.reason = reason
        self.too_long = too_long
        self.started = started
        self.text = text


class CompressionNote(TextualMessage):
    """A compression of chat ``chat_id`` started, took a step or finished (``event``).

    ``job_id`` is the compression the app started (auto or "compress now"); None when the
    session compressed on its own inside a turn (the emergency ladder before a reply).
    """

    def __init__(self, chat_id: int, event: CompressionEvent, job_id: int | None = None) -> None:
        super().__init__()
        self.chat_id = chat_id
        self.event = event
        self.job_id = job_id


class ContextChanged(TextualMessage):
    """A context job (undo, a snapshot restore) changed chat ``chat_id``'s active context."""

    def __init__(self, chat_id: int) -> None:
        super().__init__()
        self.chat_id = chat_id


class ContextNote(TextualMessage):
    """An event of a chat's context manager (``session/events.py``): the usage changed, the
    tier was locked, the memory level changed, or a notice. Posted from any thread."""

    def __init__(self, event: ContextEvent) -> None:
        super().__init__()
        self.event = event
