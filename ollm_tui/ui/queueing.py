"""Messages typed while the model is busy: queued, shown, sent in order (mixed into ``OllmApp``).

The model does one thing at a time (a reply, a compression, an undo). Enter while it is busy
queues the message instead of refusing it: the queue is shown above the composer, and the
oldest queued message is sent as soon as the model is free. Nothing typed is lost:

- Up in an empty composer takes the newest queued message back for editing;
- a failed turn, switching chat and quitting put every queued message back in the composer
  (quitting asks for a second Ctrl+Q), with a note saying so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widgets import Static

from ollm_tui.ui.generation import Turn
from ollm_tui.ui.safe_text import safe

if TYPE_CHECKING:
    from ollm_tui.ui.app import OllmApp

_Base: Any = object

PREVIEW_CHARS = 48
"""How much of each queued message the queue panel shows."""


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """One line of ``text`` for the queue panel, cut with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def queue_text(queued: list[str]) -> str:
    """What the queue panel says, e.g. ``"Queued (2): “hi” · “and this” · Up takes the last
    back"``; "" when nothing is queued."""
    if not queued:
        return ""
    items = " · ".join(f"“{preview(t)}”" for t in queued)
    return (
        f"⏳ Queued ({len(queued)}): {items} · sent when the model is free; Up takes the last back"
    )


class QueuePanel(Static):
    """One line above the composer listing the queued messages (hidden when there are none)."""

    def show_queue(self, queued: list[str]) -> None:
        """Show ``queued`` (hide the panel when empty)."""
        self.update(safe(queue_text(queued)))
        self.display = bool(queued)


class QueueMixin(_Base):
    """The send queue of ``OllmApp``: Enter while the model is busy, then in order."""

    queued: list[str]
    """Messages waiting for the model, oldest first (for the open chat)."""

    def setup_queue(self) -> None:
        """Start with an empty queue (called from ``__init__``)."""
        self.queued = []
        self.sending = False
        """True from taking a queued message until its turn has started."""
        self._quit_warned = False

    def model_busy(self: OllmApp) -> bool:
        """True while the model has a job (a reply, a compression, an undo) or one is starting."""
        if self.turn is not None or self.compression is not None or self.sending:
            return True
        return any(w.group == "generate" and not w.is_finished for w in self.workers)

    async def send_text(self: OllmApp, text: str) -> None:
        """Show ``text`` and its (empty) reply and start the turn (the model is free)."""
        try:
            user_view = await self.transcript.add_user(text)
            reply_view = await self.transcript.add_reply(self._model_name())
        except BaseException:
            self.sending = False  # the model is not busy after all
            raise
        self.start_turn(Turn(self._session(), text, reply_view, user_view))

    def restore_composer(self: OllmApp, text: str) -> None:
        """Put ``text`` back in the composer, before what is typed there."""
        typed = self.composer.text
        self.composer.load_text(text if not typed.strip() else f"{text}\n{typed}")
        self.composer.move_cursor(self.composer.document.end)
        self.composer.focus()

    def queue_message(self: OllmApp, text: str) -> None:
        """Queue ``text`` (the model is busy): clear the composer and show the queue."""
        self.queued.append(text)
        self.composer.clear()
        self.composer.recall = text
        self._quit_warned = False
        self._show_queue()

    def _show_queue(self: OllmApp) -> None:
        self.query_one("#queue", QueuePanel).show_queue(self.queued)
        count = len(self.queued)
        hint = "Enter send · ^J new line"
        self.composer.border_subtitle = f"queued ({count}) · {hint}" if count else hint

    def take_back_queued(self: OllmApp) -> str | None:
        """Remove the newest queued message and return it (Up in an empty composer)."""
        if not self.queued:
            return None
        text = self.queued.pop()
        self._show_queue()
        return text

    def put_queue_back(self: OllmApp, why: str) -> bool:
        """Move every queued message back into the composer (oldest first, before what is
        typed there) with a note starting with ``why``; False when nothing was queued."""
        if not self.queued:
            return False
        count = len(self.queued)
        texts, self.queued = self.queued, []
        self._show_queue()
        self.restore_composer("\n\n".join(texts))
        noun = "message is" if count == 1 else "messages are"
        self.notify(
            f"{why}: {count} queued {noun} back in the message box, not sent.",
            severity="warning",
            markup=False,
        )
        return True

    def drain_queue(self: OllmApp) -> None:
        """Send the oldest queued message when the model is free (and ready)."""
        if not self.queued or self.model_busy() or self.no_model_reason() is not None:
            return
        text = self.queued.pop(0)
        self._show_queue()
        self.sending = True  # busy from now on, before the turn's worker exists
        self.run_worker(self.send_text(text), group="transcript", exit_on_error=False)

    def quit_with_queue(self: OllmApp) -> bool:
        """On the first quit with a queue, put it back and warn; True when that happened."""
        if self._quit_warned or not self.queued:
            return False
        self._quit_warned = True
        self.put_queue_back("Not quitting yet")
        self.notify("Quit again to leave anyway.", severity="warning")
        return True
