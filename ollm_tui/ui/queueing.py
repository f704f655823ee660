"""Messages typed while the model is busy: queued, shown, sent in order (``SendQueue``).

The model does one thing at a time (a reply, a compression, an undo). Enter while it is busy
queues the message instead of refusing it: the queue is shown above the composer, and the
oldest queued message is sent as soon as the model is free. Nothing typed is lost:

- Up in an empty composer takes the newest queued message back for editing;
- a failed turn, switching chat and quitting put every queued message back in the composer
  (quitting asks for a second Ctrl+Q), with a note saying so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Static

from ollm_tui.ui.safe_text import safe

if TYPE_CHECKING:
    from ollm_tui.ui.app import OllmApp

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


class SendQueue:
    """The send queue: Enter while the model is busy, then in order (for the open chat).

    It owns the queued messages; the chat screen asks it to queue, take back, put back.
    """

    def __init__(self, app: OllmApp) -> None:
        self.app = app
        self.queued: list[str] = []
        """Messages waiting for the model, oldest first."""
        self._quit_warned = False

    def add(self, text: str) -> None:
        """Queue ``text`` (the model is busy): clear the composer and show the queue."""
        self.queued.append(text)
        composer = self.app.composer
        composer.clear()
        composer.recall = text
        self._quit_warned = False
        self._show()

    def _show(self) -> None:
        self.app.chat_screen.query_one("#queue", QueuePanel).show_queue(self.queued)
        count = len(self.queued)
        hint = "Enter send · ^J new line"
        self.app.composer.border_subtitle = f"queued ({count}) · {hint}" if count else hint

    def take_back(self) -> str | None:
        """Remove the newest queued message and return it (Up in an empty composer)."""
        if not self.queued:
            return None
        text = self.queued.pop()
        self._show()
        return text

    def put_back(self, why: str) -> bool:
        """Move every queued message back into the composer (oldest first, before what is
        typed there) with a note starting with ``why``; False when nothing was queued."""
        if not self.queued:
            return False
        count = len(self.queued)
        texts, self.queued = self.queued, []
        self._show()
        self.app.chat_screen.restore_composer("\n\n".join(texts))
        noun = "message is" if count == 1 else "messages are"
        self.app.notify(
            f"{why}: {count} queued {noun} back in the message box, not sent.",
            severity="warning",
            markup=False,
        )
        return True

    def drain(self) -> None:
        """Send the oldest queued message when the model is free (and ready)."""
        jobs = self.app.jobs
        if not self.queued or jobs.refusal("turn") is not None:
            return
        text = self.queued.pop(0)
        self._show()
        jobs.starting = True  # busy from now on, before the turn's worker exists
        screen = self.app.chat_screen
        self.app.run_worker(screen.send_text(text), group="transcript", exit_on_error=False)

    def quit_with_queue(self) -> bool:
        """On the first quit with a queue, put it back and warn; True when that happened."""
        if self._quit_warned or not self.queued:
            return False
        self._quit_warned = True
        self.put_back("Not quitting yet")
        self.app.notify("Quit again to leave anyway.", severity="warning")
        return True
