"""The transcript: a chat of any length, drawn line by line, following the end while a reply
streams.

It is one ``ScrollView`` (Textual's Line API, ``transcript_view.EntryView``) over a list of
entries (``transcript_entries.py``), not a widget per message: it draws only the lines in
view, so opening a chat of 5,000 messages costs what its last screen costs
(``bench/big_chats.py`` measures it), and memory stays bounded however far the user
scrolls.

While a reply streams, one timer takes the worker's text every ``DRAIN_INTERVAL_S``; the
reply's Markdown re-renders only its open tail block (``MarkdownDoc``), so the work per
frame does not grow with the reply. At the bottom the view follows the end; scrolling up
stops following, scrolling back to the end follows again.

Keys (``MESSAGE_BINDINGS``): the cursor moves between messages and checkpoints (Up/Down,
Home/End), ``c`` copies, Enter expands a checkpoint; a click selects (and toggles a
checkpoint). A new kind of block (a tool call, a branch marker) is a new ``Entry``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.binding import BindingType
from textual.message import Message as TextualMessage
from textual.timer import Timer

from ollm_tui.store.db import Message
from ollm_tui.ui.bindings import MESSAGE_BINDINGS
from ollm_tui.ui.widgets.transcript_entries import (
    MARKERS,
    CheckpointEntry,
    Entry,
    HintEntry,
    MessageEntry,
    NoteEntry,
    ReplyEntry,
    UserEntry,
    anchor_index,
    entry_for,
)
from ollm_tui.ui.widgets.transcript_view import EntryView

if TYPE_CHECKING:
    from ollm_tui.core.conversation import Checkpoint
    from ollm_tui.ui.generation import StreamBuffer

__all__ = [
    "MARKERS",
    "CheckpointEntry",
    "Entry",
    "HintEntry",
    "MessageEntry",
    "NoteEntry",
    "ReplyEntry",
    "Transcript",
    "UserEntry",
]

DRAIN_INTERVAL_S = 0.04
"""How often a streaming reply takes the text the worker has gathered: 25 frames a second
(the goal is at least 20 screen updates a second; a frame re-renders only the open block)."""


class Transcript(EntryView, can_focus=True):
    """The open chat's messages, oldest first."""

    BINDINGS: ClassVar[list[BindingType]] = MESSAGE_BINDINGS

    class CopyRequested(TextualMessage):
        """The user asked to copy an entry's text (a message, or a checkpoint's summary)."""

        def __init__(self, entry: Entry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._timer: Timer | None = None

    # -- the entries -------------------------------------------------------------------

    def views(self) -> list[MessageEntry]:
        """The messages (user messages and replies), in order."""
        return [e for e in self.entries if isinstance(e, MessageEntry)]

    def last_reply(self) -> ReplyEntry | None:
        """The last reply, if any."""
        for entry in reversed(self.entries):
            if isinstance(entry, ReplyEntry):
                return entry
        return None

    def dividers(self) -> list[CheckpointEntry]:
        """The checkpoints, in order."""
        return [e for e in self.entries if isinstance(e, CheckpointEntry)]

    async def show(
        self,
        messages: list[Message],
        checkpoints: Sequence[Checkpoint] = (),
        active: set[int] | frozenset[int] = frozenset(),
    ) -> None:
        """Replace what is shown with ``messages`` (a checkpoint after the last message each
        of ``checkpoints`` covers; those not in ``active`` dimmed) and go to the end.
        Nothing is rendered here: only what comes into view is."""
        after: dict[int, list[Checkpoint]] = {}
        for checkpoint in sorted(checkpoints, key=lambda c: c.id):
            after.setdefault(anchor_index(messages, checkpoint), []).append(checkpoint)
        entries: list[Entry] = [CheckpointEntry(c, c.id in active) for c in after.get(-1, [])]
        for i, message in enumerate(messages):
            entry = entry_for(message)
            if entry is not None:
                entries.append(entry)
            entries += [CheckpointEntry(c, c.id in active) for c in after.get(i, [])]
        self._set_entries(entries)

    def _set_entries(self, entries: list[Entry]) -> None:
        self._stop_streams()
        if not entries:
            entries = [HintEntry()]
        self.entries = entries
        for entry in entries:
            entry.changed = self._entry_changed
        self.cursor = None
        self._rendered.clear()
        self._width = 0  # heights are estimated afresh on the next frame
        self._heights = []
        self._offsets_dirty = True
        self.anchor()

    def _append(self, entry: Entry) -> None:
        if len(self.entries) == 1 and isinstance(self.entries[0], HintEntry):
            self.entries.clear()
            self._heights.clear()
            self._offsets_dirty = True
        entry.changed = self._entry_changed
        self.entries.append(entry)
        if self._width:
            self._heights.append(self._gap(len(self.entries) - 1) + entry.estimate(self._width))
        self._offsets_dirty = True
        self.anchor()

    async def add_user(self, text: str) -> UserEntry:
        """Append the user's message (not stored yet) and go to the end."""
        entry = UserEntry(None, text)
        self._append(entry)
        return entry

    async def add_reply(self, model: str | None) -> ReplyEntry:
        """Append an empty reply that is about to stream."""
        entry = ReplyEntry(None, "", status="streaming", model=model)
        self._append(entry)
        return entry

    async def drop_trailing_replies(self) -> None:
        """Remove the replies after the last user message (regenerate replaces them)."""
        while self.entries and isinstance(self.entries[-1], ReplyEntry):
            self.entries.pop()
        if not self.entries:
            self.entries = [HintEntry()]
        self._relayout()

    def sync_checkpoints(self, checkpoints: Sequence[Checkpoint], active: set[int]) -> None:
        """Show each of ``checkpoints`` (new ones in place, inactive ones dimmed, ones no
        longer stored removed), keeping what is on screen where it is."""
        wanted = {c.id: c for c in checkpoints}
        kept: list[Entry] = []
        shown: set[int] = set()
        for entry in self.entries:
            if isinstance(entry, CheckpointEntry):
                if entry.checkpoint.id not in wanted:
                    continue
                entry.set_active(entry.checkpoint.id in active)
                shown.add(entry.checkpoint.id)
            kept.append(entry)
        for checkpoint in sorted(checkpoints, key=lambda c: c.id):
            if checkpoint.id not in shown:
                entry = CheckpointEntry(checkpoint, checkpoint.id in active)
                entry.changed = self._entry_changed
                kept.insert(self._checkpoint_place(kept, checkpoint), entry)
        if len(kept) != len(self.entries) or any(
            a is not b for a, b in zip(kept, self.entries, strict=True)
        ):
            self.entries = kept
            self._relayout()

    @staticmethod
    def _checkpoint_place(entries: list[Entry], checkpoint: Checkpoint) -> int:
        """Where a new checkpoint goes: after the last message it covers (and after the
        checkpoints already following that message)."""
        place = 0
        seen_message = False
        for i, entry in enumerate(entries):
            if isinstance(entry, MessageEntry | NoteEntry):
                message = entry.message
                if message is None or message.id > checkpoint.last_message_id:
                    break
                place, seen_message = i + 1, True
            elif isinstance(entry, CheckpointEntry) and seen_message:
                place = i + 1
        return place

    # -- streaming ---------------------------------------------------------------------

    def begin_stream(self, entry: ReplyEntry, buffer: StreamBuffer) -> None:
        """Show ``buffer``'s text in ``entry`` as the worker fills it, until ``finish``."""
        entry.begin_stream(buffer)
        if self._timer is None:
            self._timer = self.set_interval(DRAIN_INTERVAL_S, self._drain)

    def _drain(self) -> None:
        streaming = [e for e in self.entries[-4:] if isinstance(e, ReplyEntry) and e.streaming]
        for entry in streaming:
            entry.drain()
        if not streaming and self._timer is not None:
            self._timer.stop()
            self._timer = None

    def finish(self, entry: ReplyEntry, message: Message) -> None:
        """End ``entry``'s stream: it shows the stored reply."""
        entry.finish(message)

    def _stop_streams(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    # -- the cursor --------------------------------------------------------------------

    def _selectable(self) -> list[int]:
        return [i for i, e in enumerate(self.entries) if e.selectable]

    def select(self, index: int | None) -> None:
        """Put the cursor on entry ``index`` and bring it into view."""
        self.cursor = index
        if index is not None:
            self.scroll_to_entry(index)
        self.refresh()

    @property
    def selected(self) -> Entry | None:
        """The entry under the cursor."""
        if self.cursor is None or self.cursor >= len(self.entries):
            return None
        return self.entries[self.cursor]

    def scroll_to_entry(self, index: int, top: bool = False) -> None:
        """Scroll so that entry ``index`` is in view (at the top with ``top``)."""
        self._prepare()
        offsets = self._offsets_now()
        start = offsets[index] + self._gap(index)
        end = offsets[index + 1]
        view = max(self.scrollable_content_region.height, 1)
        y = round(self.scroll_y)
        if top or start < y or end - start > view:
            y = start
        elif end > y + view:
            y = end - view
        self.scroll_to(y=y, animate=False, immediate=True)
        self.follow = y >= self.max_scroll_y
        top = offsets[index]
        self._anchor, self._last_top = (index, y - top), y
        self.refresh()

    def jump_to(self, message_id: int) -> bool:
        """Select the message ``message_id`` and scroll it to the top (False: not shown)."""
        for index, entry in enumerate(self.entries):
            if isinstance(entry, MessageEntry) and entry.message and entry.message.id == message_id:
                self.cursor = index
                self.scroll_to_entry(index, top=True)
                return True
        return False

    def on_focus(self) -> None:
        if self.cursor is None:
            selectable = self._selectable()
            if selectable:
                self.select(selectable[-1])
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def action_focus_sibling(self, step: int) -> None:
        """Move the cursor to the previous (-1) or next (+1) entry; past the last one, the
        composer takes the focus."""
        selectable = self._selectable()
        if not selectable:
            self.screen.focus_next()
            return
        if self.cursor is None or self.cursor not in selectable:
            self.select(selectable[-1])
            return
        position = selectable.index(self.cursor) + step
        if position >= len(selectable):
            self.screen.focus_next()
        elif position >= 0:
            self.select(selectable[position])

    def action_select_edge(self, step: int) -> None:
        """Move the cursor to the first (-1) or last (+1) entry."""
        selectable = self._selectable()
        if selectable:
            self.select(selectable[0] if step < 0 else selectable[-1])

    def action_scroll_transcript(self, pages: int) -> None:
        """Scroll a page up (-1) or down (+1), e.g. through a long reply."""
        if pages < 0:
            self.scroll_page_up(animate=False)
        else:
            self.scroll_page_down(animate=False)

    def action_copy(self) -> None:
        """Ask the screen to copy the selected entry."""
        entry = self.selected
        if entry is not None and entry.selectable:
            self.post_message(self.CopyRequested(entry))

    def action_toggle(self) -> None:
        """Expand or collapse the selected checkpoint."""
        entry = self.selected
        if isinstance(entry, CheckpointEntry):
            entry.toggle()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        line_y = round(self.scroll_y) + offset.y
        if line_y >= self._offsets_now()[-1]:
            return
        index = self._index_at(line_y)
        entry = self.entries[index]
        if entry.selectable:
            self.focus()
            self.cursor = index
            if isinstance(entry, CheckpointEntry):
                entry.toggle()
            self.refresh()
