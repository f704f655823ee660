"""The transcript: one focusable widget per message, pinned to the bottom while a reply streams.

User text is shown literally (never parsed as markup or Markdown). Replies are Markdown:
while streaming, text is drained from a ``StreamBuffer`` every 100 ms into a
``MarkdownStream`` (which coalesces further when rendering falls behind, and re-parses only
the last block each time). When the reply ends, the stored text is rendered in full only if
it differs from what streamed in (``bench/stream.py`` measures the cost).

A ``CheckpointDivider`` follows the last message a checkpoint covers: collapsed it shows the
checkpoint's label ("24 messages -> 412 tokens, L3"), expanded its summary. Every original
message stays in the transcript; checkpoints no longer in use (undone) are dimmed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Collapsible, Label, Markdown, Static
from textual.widgets.markdown import MarkdownStream

from ollm_tui.core.display import DisplayStream
from ollm_tui.store.db import Message
from ollm_tui.ui.bindings import MESSAGE_BINDINGS
from ollm_tui.ui.generation import StreamBuffer
from ollm_tui.ui.safe_text import safe, safe_markdown
from ollm_tui.ui.widgets.reply_markdown import ReplyMarkdown, stop_stream

if TYPE_CHECKING:
    from ollm_tui.core.conversation import Checkpoint

__all__ = ["ReplyMarkdown", "stop_stream"]  # (and the widgets below)

DRAIN_INTERVAL_S = 0.1
"""How often a streaming reply takes the text the worker has gathered."""

MARKERS: dict[str, str] = {
    "streaming": "▍ writing…",
    "stopping": "■ stopping…",
    "stopped": "■ stopped: the reply was cut short",
    "interrupted": "⚠ interrupted: the app closed while this reply was being written",
    "error": "✖ error",
}
"""The small label under a reply that is not simply complete."""


class MessageView(Vertical):
    """One message of the transcript. Focusable: ``c`` copies it, up/down move between them."""

    BINDINGS: ClassVar[list[BindingType]] = MESSAGE_BINDINGS
    can_focus = True

    ROLE_LABEL: ClassVar[str] = ""

    class CopyRequested(TextualMessage):
        """The user asked to copy a message's text."""

        def __init__(self, view: MessageView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, message: Message | None, content: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.message = message
        """The stored message (None until the store has it)."""
        self._content = content

    @property
    def text(self) -> str:
        """The message's text as stored (what copying copies)."""
        return self._content

    def action_copy(self) -> None:
        """Ask the app to copy this message."""
        self.post_message(self.CopyRequested(self))

    def action_focus_sibling(self, step: int) -> None:
        """Focus the previous (-1) or next (+1) message; past the last one, the composer."""
        focus_sibling(self, step)

    def action_scroll_transcript(self, pages: int) -> None:
        """Scroll the transcript a page up (-1) or down (+1), e.g. through a long reply."""
        scroll_parent(self, pages)


def focus_sibling(widget: Widget, step: int) -> None:
    """Focus the message or divider ``step`` places from ``widget``; past the last one, the
    composer."""
    parent = widget.parent
    if parent is None:
        return
    items = [w for w in parent.children if isinstance(w, MessageView | CheckpointDivider)]
    index = items.index(widget) + step  # type: ignore[arg-type]
    if 0 <= index < len(items):
        target = items[index]
        if isinstance(target, CheckpointDivider):
            target.query_one("CollapsibleTitle").focus()  # the title is what takes focus
        else:
            target.focus()
    elif index >= len(items):
        widget.screen.focus_next()


def scroll_parent(widget: Widget, pages: int) -> None:
    """Scroll the transcript holding ``widget`` a page up (-1) or down (+1)."""
    parent = widget.parent
    if isinstance(parent, VerticalScroll):
        if pages < 0:
            parent.scroll_page_up()
        else:
            parent.scroll_page_down()


class UserMessage(MessageView):
    """The user's message, shown exactly as typed."""

    ROLE_LABEL = "You"

    def compose(self) -> ComposeResult:
        yield Label(self.ROLE_LABEL, classes="role")
        yield Static(safe(self._content), classes="body", markup=False)


class AssistantMessage(MessageView):
    """A reply, rendered as Markdown, with a marker when it is not simply complete."""

    ROLE_LABEL = "Assistant"

    class Finalize(TextualMessage, bubble=False):
        """Render the finished reply (posted by the app, handled by the reply itself)."""

        def __init__(self, message: Message) -> None:
            super().__init__()
            self.message = message

    status: reactive[str] = reactive("complete", init=False)
    """complete, streaming, stopping, stopped, interrupted or error (toggles CSS classes)."""

    def __init__(
        self,
        message: Message | None,
        content: str = "",
        status: str = "complete",
        model: str | None = None,
        error: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(message, content, **kwargs)
        self._model = model
        self._error = error
        self._buffer: StreamBuffer | None = None
        self._stream: MarkdownStream | None = None
        self._timer: Timer | None = None
        self._streamed: list[str] = []
        self._display = DisplayStream()
        self._finished = False
        self.set_reactive(AssistantMessage.status, status)

    @classmethod
    def from_message(cls, message: Message) -> AssistantMessage:
        """A view of a stored reply."""
        return cls(
            message,
            message.content,
            status=message.status,
            model=message.meta.get("model"),
            error=message.meta.get("error"),
        )

    def compose(self) -> ComposeResult:
        role = self.ROLE_LABEL + (f" · {self._model}" if self._model else "")
        yield Label(safe(role), classes="role")
        yield ReplyMarkdown(safe_markdown(self._content), classes="body")
        yield Label(self._marker_text(), classes=f"marker -{self.status}")

    def on_mount(self) -> None:
        self._apply_status(self.status)

    @property
    def text(self) -> str:
        """The reply's text: what has streamed in so far, or the stored text when done."""
        if self._buffer is not None and not self._finished:
            return "".join(self._streamed)
        return self._content

    @property
    def markdown(self) -> ReplyMarkdown:
        """The Markdown widget holding the reply."""
        return self.query_one(".body", ReplyMarkdown)

    # -- streaming -----------------------------------------------------------------------

    def begin_stream(self, buffer: StreamBuffer) -> None:
        """Show text from ``buffer`` as the worker fills it, until ``finish``."""
        self._buffer = buffer
        self._finished = False
        self._display = DisplayStream()
        self.status = "streaming"
        self._timer = self.set_interval(DRAIN_INTERVAL_S, self._drain)

    async def _drain(self) -> None:
        if self._buffer is None or self._finished:
            return
        chunk = self._buffer.drain()
        if not chunk:
            return
        self._streamed.append(chunk)
        await self._write(self._display.feed(chunk))

    async def _write(self, shown: str) -> None:
        """Append display text (never the raw chunk: the sanitiser runs first)."""
        if not shown:
            return
        if self._stream is None:
            self._stream = Markdown.get_stream(self.markdown)
        await self._stream.write(shown)

    def mark_stopping(self) -> None:
        """Show at once that a stop was asked for (the worker ends the reply shortly)."""
        if self.status == "streaming":
            self.status = "stopping"

    async def finish(self, message: Message) -> None:
        """End the stream. The stored reply is rendered in full (one Markdown parse) only
        when it differs from what streamed in: re-rendering a long reply that the stream
        already shows would stall the screen for seconds."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        await self._drain()  # what the worker added since the last tick
        if self._buffer is not None and not self._finished:
            await self._write(self._display.flush())  # a carriage return held back
        self._finished = True
        stream, self._stream = self._stream, None
        if stream is not None:
            await stop_stream(stream)
        self.message = message
        self._content = message.content
        self._error = message.meta.get("error")
        markdown = self.markdown
        # The widget holds display text: compare with the stored reply's display form.
        shown = safe_markdown(message.content)
        if stream is not None and markdown.source != shown:
            written = safe_markdown("".join(self._streamed))
            if written == shown and written.startswith(markdown.source):
                # a stream stopped before its task ran drops what was pending: add it here
                await markdown.append(written[len(markdown.source) :])
        if stream is None or markdown.source != shown:
            await markdown.update(shown)
        else:
            markdown.trim_last_block()
        self.status = message.status

    async def on_unmount(self) -> None:
        """Removed mid-stream (the chat was switched): end the stream's background task."""
        self._finished = True
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):  # the widget is going away anyway
                await stop_stream(stream)

    async def _on_assistant_message_finalize(self, event: Finalize) -> None:
        await self.finish(event.message)

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        """Show where a link in the reply goes; it is not opened (its text may differ)."""
        event.stop()
        self.notify(
            f"This link goes to: {event.href}\nIt was not opened: a link's text can differ "
            "from its target. Copy the reply (c) to use it.",
            title="Link",
            markup=False,
            timeout=15,
        )

    # -- status --------------------------------------------------------------------------

    def _marker_text(self) -> Content:
        text = MARKERS.get(self.status, "")
        if self.status == "error" and self._error:
            text = f"{text}: {self._error}"
        return safe(text)

    def watch_status(self, status: str) -> None:
        self._apply_status(status)

    def _apply_status(self, status: str) -> None:
        # A class on the reply restyles its whole Markdown subtree (a long reply: a visible
        # stall), so the common path, streaming -> complete, only touches the marker.
        for name in ("stopping", "stopped", "interrupted", "error"):
            self.set_class(status == name, f"-{name}")
        for marker in self.query(".marker").results(Label):
            for name in MARKERS:
                marker.set_class(status == name, f"-{name}")
            marker.update(self._marker_text())


class DividerView(Static):
    """A note between messages (not part of what the model sees)."""


def divider_title(checkpoint: Checkpoint, active: bool) -> Content:
    """The collapsed divider's text, e.g. ``"Checkpoint · 24 messages -> 412 tokens, L3"``."""
    text = f"Checkpoint · {checkpoint.label}"
    if not active:
        text += " · not in use"
    return safe(text)


class CheckpointDivider(Collapsible):
    """A checkpoint between the messages it covers and the rest: its label, collapsed; the
    summary the model sees instead of those messages, expanded (click, or Enter on it)."""

    BINDINGS: ClassVar[list[BindingType]] = MESSAGE_BINDINGS
    """The message keys (copy, up/down, page up/down); Enter on the title toggles."""

    class CopyRequested(TextualMessage):
        """The user asked to copy a checkpoint's summary."""

        def __init__(self, divider: CheckpointDivider) -> None:
            super().__init__()
            self.divider = divider

    def __init__(self, checkpoint: Checkpoint, active: bool = True) -> None:
        super().__init__(
            Static(safe(checkpoint.summary), classes="summary", markup=False),
            title=divider_title(checkpoint, active),  # type: ignore[arg-type]
            collapsed=True,
            classes="checkpoint",
        )
        self.checkpoint = checkpoint
        self.active = active
        self.set_class(not active, "-inactive")

    @property
    def text(self) -> str:
        """The summary (what copying copies)."""
        return self.checkpoint.summary

    def set_active(self, active: bool) -> None:
        """Dim (or undim) the divider: is the checkpoint part of the active context?"""
        if active != self.active:
            self.active = active
            self.set_class(not active, "-inactive")
            self.title = divider_title(self.checkpoint, active)  # type: ignore[assignment]

    def action_copy(self) -> None:
        """Ask the app to copy the summary."""
        self.post_message(self.CopyRequested(self))

    def action_focus_sibling(self, step: int) -> None:
        """Focus the previous (-1) or next (+1) message or divider."""
        focus_sibling(self, step)

    def action_scroll_transcript(self, pages: int) -> None:
        """Scroll the transcript a page up (-1) or down (+1)."""
        scroll_parent(self, pages)


def anchor_index(messages: Sequence[Message], checkpoint: Checkpoint) -> int:
    """The index of the message a checkpoint's divider follows: the last one it covers (the
    last with an id up to ``last_message_id``); -1 when it comes before all of them."""
    index = -1
    for i, message in enumerate(messages):
        if message.id <= checkpoint.last_message_id:
            index = i
    return index


class EmptyHint(Static):
    """Shown in a chat with no messages yet."""


EMPTY_HINT = (
    "Nothing here yet. Type below and press Enter to send.\n"
    "Ctrl+J adds a new line (Shift+Enter too, where the terminal tells it apart)."
)


class Transcript(VerticalScroll):
    """The open chat's messages, oldest first. Stays pinned to the bottom while anchored."""

    can_focus = False

    def views(self) -> list[MessageView]:
        """The message widgets, in order."""
        return [w for w in self.children if isinstance(w, MessageView)]

    def last_reply(self) -> AssistantMessage | None:
        """The last reply widget, if any."""
        replies = [w for w in self.children if isinstance(w, AssistantMessage)]
        return replies[-1] if replies else None

    @staticmethod
    def view_for(message: Message) -> Widget | None:
        """The widget that shows a stored message (None for roles not shown)."""
        if message.role == "user":
            return UserMessage(message, message.content)
        if message.role == "assistant":
            return AssistantMessage.from_message(message)
        if message.role == "divider":
            return DividerView(safe(message.content), classes="divider")
        return None

    async def show(
        self,
        messages: list[Message],
        checkpoints: Sequence[Checkpoint] = (),
        active: set[int] | frozenset[int] = frozenset(),
    ) -> None:
        """Replace what is shown with ``messages`` (a divider after the last message each
        of ``checkpoints`` covers; those not in ``active`` dimmed) and scroll to the end."""
        await self.remove_children()
        after: dict[int, list[Checkpoint]] = {}
        for checkpoint in sorted(checkpoints, key=lambda c: c.id):
            after.setdefault(anchor_index(messages, checkpoint), []).append(checkpoint)
        widgets: list[Widget] = [CheckpointDivider(c, c.id in active) for c in after.get(-1, [])]
        for i, message in enumerate(messages):
            view = self.view_for(message)
            if view is not None:
                widgets.append(view)
            widgets += [CheckpointDivider(c, c.id in active) for c in after.get(i, [])]
        if not widgets:
            widgets = [EmptyHint(Content(EMPTY_HINT), classes="empty-hint")]
        await self.mount_all(widgets)
        self.anchor()

    async def add_user(self, text: str) -> UserMessage:
        """Append the user's message (not stored yet) and pin the view to the bottom."""
        await self.query(EmptyHint).remove()
        view = UserMessage(None, text)
        await self.mount(view)
        self.anchor()
        return view

    async def add_reply(self, model: str | None) -> AssistantMessage:
        """Append an empty reply that is about to stream."""
        await self.query(EmptyHint).remove()
        view = AssistantMessage(None, "", status="streaming", model=model)
        await self.mount(view)
        self.anchor()
        return view

    def dividers(self) -> list[CheckpointDivider]:
        """The checkpoint dividers, in order."""
        return [w for w in self.children if isinstance(w, CheckpointDivider)]

    def sync_checkpoints(self, checkpoints: Sequence[Checkpoint], active: set[int]) -> None:
        """Show a divider for each of ``checkpoints`` (new ones mounted in place, inactive
        ones dimmed, ones no longer stored removed), keeping the scroll position."""
        shown = {d.checkpoint.id: d for d in self.dividers()}
        wanted = {c.id for c in checkpoints}
        for checkpoint_id, divider in shown.items():
            if checkpoint_id not in wanted:
                divider.remove()
        for checkpoint in sorted(checkpoints, key=lambda c: c.id):
            divider = shown.get(checkpoint.id)
            if divider is not None:
                divider.set_active(checkpoint.id in active)
            else:
                self._mount_divider(CheckpointDivider(checkpoint, checkpoint.id in active))

    def _mount_divider(self, divider: CheckpointDivider) -> None:
        """Mount ``divider`` after the last message it covers (and after the dividers that
        already follow that message)."""
        last_id = divider.checkpoint.last_message_id
        children = list(self.children)
        anchor: Widget | None = None
        for child in children:
            if isinstance(child, MessageView):
                if child.message is None or child.message.id > last_id:
                    break
                anchor = child
            elif isinstance(child, CheckpointDivider) and anchor is not None:
                anchor = child
        if anchor is not None:
            self.mount(divider, after=anchor)
        elif children:
            self.mount(divider, before=children[0])
        else:
            self.mount(divider)

    async def drop_trailing_replies(self) -> None:
        """Remove the replies after the last user message (regenerate replaces them)."""
        for view in reversed(self.views()):
            if not isinstance(view, AssistantMessage):
                break
            await view.remove()
