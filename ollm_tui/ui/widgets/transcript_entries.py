"""What the transcript shows, one entry per message, note or checkpoint (``transcript.py``).

An entry is data, not a widget: it knows its text and renders its own lines (Rich
renderables to ``Strip``s) at a width, cached until it changes. The transcript draws only
the lines in view, so a chat of any length costs what its screen costs. Entries that were
never drawn report an estimated height from their text; the transcript corrects it when
they come into view.

User text is shown literally (never parsed as markup or Markdown), with its control, C1
and bidi characters as dimmed visible escapes. Replies are Markdown (``MarkdownDoc``:
finished blocks are rendered once and frozen, only the open tail block is re-rendered
while a reply streams). Every string goes through the sanitiser before it is rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from ollm_tui.core.display import DisplayStream
from ollm_tui.store.db import Message
from ollm_tui.ui.safe_text import safe_markdown, safe_rich
from ollm_tui.ui.widgets.markdown_doc import MarkdownDoc

if TYPE_CHECKING:
    from ollm_tui.core.conversation import Checkpoint
    from ollm_tui.ui.generation import StreamBuffer

MARKERS: dict[str, str] = {
    "streaming": "▍ writing…",
    "stopping": "■ stopping…",
    "stopped": "■ stopped: the reply was cut short",
    "interrupted": "⚠ interrupted: the app closed while this reply was being written",
    "error": "✖ error",
}
"""The small line under a reply that is not simply complete."""

Styler = Callable[[str], Style]
"""Looks up a transcript component style by its short name (``"user-role"``)."""


def render_lines(renderable: RenderableType, width: int, console: Console) -> list[Strip]:
    """``renderable`` laid out at ``width`` cells, one ``Strip`` per line."""
    options = console.options.update_width(max(width, 1))
    return [Strip(line, width) for line in console.render_lines(renderable, options, pad=True)]


def estimate_lines(text: str, width: int) -> int:
    """How many lines ``text`` takes when wrapped at ``width`` (a guess: no rendering)."""
    width = max(width, 1)
    return sum(len(line) // width + 1 for line in text.split("\n"))


class Entry:
    """One item of the transcript. Subclasses render ``lines(width)``."""

    kind = "entry"
    selectable = True
    """Whether the cursor stops on it (and ``c`` copies it)."""

    def __init__(self) -> None:
        self.version = 0
        """Bumped on every change that alters what is drawn."""
        self._cache: tuple[int, int, list[Strip]] | None = None
        self.changed: Callable[[Entry], None] | None = None
        """Set by the transcript: called after a change, to redraw."""
        self.drawn: dict[int, tuple[Strip, tuple[str, int], Strip]] = {}
        """The transcript's finished screen lines of this entry (gutter and styles applied),
        by line: (the entry's line it was made from, (bar, width), the screen line)."""

    @property
    def text(self) -> str:
        """What copying copies (the stored text, exactly)."""
        return ""

    @property
    def bar(self) -> str:
        """The gutter style name (the coloured bar left of the entry)."""
        return "bar"

    def touch(self) -> None:
        """Something drawn changed: drop the cached lines and tell the transcript."""
        self.version += 1
        if self.changed is not None:
            self.changed(self)

    def lines(self, width: int, console: Console, style: Styler) -> list[Strip]:
        """The entry's lines at ``width`` (cached until it changes)."""
        cache = self._cache
        if cache is not None and cache[0] == width and cache[1] == self.version:
            return cache[2]
        lines = self.render(width, console, style)
        self._cache = (width, self.version, lines)
        return lines

    def rendered_height(self, width: int) -> int | None:
        """The height at ``width`` if the lines are already rendered for this version."""
        cache = self._cache
        if cache is not None and cache[0] == width and cache[1] == self.version:
            return len(cache[2])
        return None

    def forget(self) -> None:
        """Drop the cached lines (to bound memory); they are rendered again when needed."""
        self._cache = None
        self.drawn.clear()

    def render(self, width: int, console: Console, style: Styler) -> list[Strip]:
        raise NotImplementedError

    def estimate(self, width: int) -> int:
        """The height at ``width`` without rendering."""
        raise NotImplementedError


class MessageEntry(Entry):
    """A user message or a reply."""

    ROLE_LABEL = ""

    def __init__(self, message: Message | None, content: str) -> None:
        super().__init__()
        self.message = message
        """The stored message (None until the store has it)."""
        self._content = content

    @property
    def text(self) -> str:
        return self._content


class UserEntry(MessageEntry):
    """The user's message, shown exactly as typed."""

    kind = "user"
    ROLE_LABEL = "You"

    @property
    def bar(self) -> str:
        return "bar-user"

    def render(self, width: int, console: Console, style: Styler) -> list[Strip]:
        body = safe_rich(self._content, style("user-body"))
        role = Text(self.ROLE_LABEL, style=style("user-role"), end="")
        return render_lines(role, width, console) + render_lines(body, width, console)

    def estimate(self, width: int) -> int:
        return 1 + estimate_lines(self._content, width)


class ReplyEntry(MessageEntry):
    """A reply, rendered as Markdown, with a marker when it is not simply complete."""

    kind = "assistant"
    ROLE_LABEL = "Assistant"

    def __init__(
        self,
        message: Message | None,
        content: str = "",
        status: str = "complete",
        model: str | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(message, content)
        self._status = status
        self.model = model
        self.error = error
        self.doc = MarkdownDoc(safe_markdown(content))
        """The Markdown shown (display text: the sanitiser has run)."""
        self.buffer: StreamBuffer | None = None
        self._streamed: list[str] = []
        self._display = DisplayStream()
        self._finished = False

    @classmethod
    def from_message(cls, message: Message) -> ReplyEntry:
        """An entry of a stored reply."""
        return cls(
            message,
            message.content,
            status=message.status,
            model=message.meta.get("model"),
            error=message.meta.get("error"),
        )

    @property
    def status(self) -> str:
        """complete, streaming, stopping, stopped, interrupted or error."""
        return self._status

    @status.setter
    def status(self, status: str) -> None:
        if status != self._status:
            self._status = status
            self.touch()

    @property
    def streaming(self) -> bool:
        """Text is still coming from the worker."""
        return self.buffer is not None and not self._finished

    @property
    def text(self) -> str:
        """The reply's text: what has streamed in so far, or the stored text when done."""
        if self.streaming:
            return "".join(self._streamed)
        return self._content

    @property
    def bar(self) -> str:
        if self._status in ("stopped", "interrupted"):
            return "bar-warning"
        if self._status == "error":
            return "bar-error"
        return "bar-assistant"

    def marker_text(self) -> str:
        """The line under the reply ("" when it is simply complete)."""
        text = MARKERS.get(self._status, "")
        if self._status == "error" and self.error:
            text = f"{text}: {self.error}"
        return text

    # -- streaming ---------------------------------------------------------------------

    def begin_stream(self, buffer: StreamBuffer) -> None:
        """Show text from ``buffer`` as the worker fills it, until ``finish``."""
        self.buffer = buffer
        self._finished = False
        self._display = DisplayStream()
        self._status = "streaming"
        self.touch()

    def drain(self) -> bool:
        """Take what the worker gathered since the last drain; True if anything changed."""
        if not self.streaming:
            return False
        assert self.buffer is not None
        chunk = self.buffer.drain()
        if not chunk:
            return False
        self._streamed.append(chunk)
        shown = self._display.feed(chunk)  # never the raw chunk: the sanitiser runs first
        if not shown:
            return False
        self.doc.append(shown)
        self.touch()
        return True

    def mark_stopping(self) -> None:
        """Show at once that a stop was asked for (the worker ends the reply shortly)."""
        if self._status == "streaming":
            self.status = "stopping"

    def finish(self, message: Message) -> None:
        """End the stream: the stored reply is what is shown. When it equals what streamed
        in (the usual case) the frozen blocks are kept; otherwise it is rendered afresh."""
        if self.streaming:
            self.drain()
            rest = self._display.flush()  # a carriage return held back
            if rest:
                self.doc.append(rest)
        self._finished = True
        self.buffer = None
        self.message = message
        self._content = message.content
        self.error = message.meta.get("error")
        self.doc.set_source(safe_markdown(message.content))
        self._status = message.status
        self.touch()

    # -- drawing -----------------------------------------------------------------------

    def render(self, width: int, console: Console, style: Styler) -> list[Strip]:
        role = self.ROLE_LABEL + (f" · {self.model}" if self.model else "")
        lines = render_lines(safe_rich(role, style("assistant-role")), width, console)
        lines += self.doc.lines(width, console)
        marker = self.marker_text()
        if marker:
            name = {"stopped": "marker-warning", "interrupted": "marker-warning"}.get(
                self._status, "marker-error" if self._status == "error" else "marker"
            )
            lines += render_lines(safe_rich(marker, style(name)), width, console)
        return lines

    def estimate(self, width: int) -> int:
        return 1 + self.doc.estimate_height(width) + (1 if self.marker_text() else 0)


class NoteEntry(Entry):
    """A note between messages (a model switch): not part of what the model sees."""

    kind = "note"
    selectable = False

    def __init__(self, message: Message) -> None:
        super().__init__()
        self.message = message

    @property
    def text(self) -> str:
        return self.message.content

    def render(self, width: int, console: Console, style: Styler) -> list[Strip]:
        text = safe_rich(self.message.content, style("note"))
        text.justify = "center"
        return render_lines(text, width, console)

    def estimate(self, width: int) -> int:
        return estimate_lines(self.message.content, width)


class CheckpointEntry(Entry):
    """A checkpoint after the messages it covers: its label, collapsed; expanded, the
    summary the model sees instead of those messages (Enter or a click toggles)."""

    kind = "checkpoint"

    def __init__(self, checkpoint: Checkpoint, active: bool = True) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.active = active
        self.expanded = False

    @property
    def text(self) -> str:
        """The summary (what copying copies)."""
        return self.checkpoint.summary

    @property
    def bar(self) -> str:
        return "bar-checkpoint" if self.active else "bar"

    @property
    def title(self) -> str:
        """The collapsed line's text, e.g. ``"Checkpoint · 24 messages -> 412 tokens, L3"``."""
        text = f"Checkpoint · {self.checkpoint.label}"
        if not self.active:
            text += " · not in use"
        return text

    @property
    def collapsed(self) -> bool:
        """Only the title line is shown."""
        return not self.expanded

    def set_active(self, active: bool) -> None:
        """Dim (or undim): is the checkpoint part of the active context?"""
        if active != self.active:
            self.active = active
            self.touch()

    def toggle(self) -> None:
        """Expand or collapse the summary."""
        self.expanded = not self.expanded
        self.touch()

    def render(self, width: int, console: Console, style: Styler) -> list[Strip]:
        name = "checkpoint" if self.active else "checkpoint-inactive"
        arrow = "▼ " if self.expanded else "▶ "
        lines = render_lines(safe_rich(arrow + self.title, style(name)), width, console)
        if self.expanded:
            summary = safe_rich(self.checkpoint.summary, style("summary"))
            lines += [
                Strip.join([Strip.blank(2), line])
                for line in render_lines(summary, max(width - 2, 1), console)
            ]
        return lines

    def estimate(self, width: int) -> int:
        return 1 + (estimate_lines(self.checkpoint.summary, width - 2) if self.expanded else 0)


class HintEntry(Entry):
    """Shown in a chat with no messages yet."""

    kind = "hint"
    selectable = False

    TEXT = (
        "Nothing here yet. Type below and press Enter to send.\n"
        "Ctrl+J adds a new line (Shift+Enter too, where the terminal tells it apart)."
    )

    def render(self, width: int, console: Console, style: Styler) -> list[Strip]:
        return render_lines(Text(self.TEXT, style=style("hint"), end=""), width, console)

    def estimate(self, width: int) -> int:
        return estimate_lines(self.TEXT, width)


def entry_for(message: Message) -> Entry | None:
    """The entry that shows a stored message (None for roles not shown)."""
    if message.role == "user":
        return UserEntry(message, message.content)
    if message.role == "assistant":
        return ReplyEntry.from_message(message)
    if message.role == "divider":
        return NoteEntry(message)
    return None


def anchor_index(messages: list[Message], checkpoint: Checkpoint) -> int:
    """The index of the message a checkpoint follows: the last one it covers (the last with
    an id up to ``last_message_id``); -1 when it comes before all of them."""
    index = -1
    for i, message in enumerate(messages):
        if message.id <= checkpoint.last_message_id:
            index = i
    return index
