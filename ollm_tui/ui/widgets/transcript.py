"""The transcript: a chat of any length, drawn line by line, following the end while a reply
streams.

It is one ``ScrollView`` (Textual's Line API) over a list of entries
(``transcript_entries.py``), not a widget per message: it draws only the lines in view, so
opening a chat of 5,000 messages costs what its last screen costs (``bench/big_chats.py``
measures it). An entry never drawn counts with a height estimated from its text; when it
comes into view it is rendered and the estimate corrected, keeping what is on screen still
(the scroll position moves by the difference above the view). Rendered lines are kept for
the most recently drawn entries only (``KEEP_RENDERED``), so memory stays bounded however
far the user scrolls.

While a reply streams, one timer takes the worker's text every ``DRAIN_INTERVAL_S``; the
reply's Markdown re-renders only its open tail block (``MarkdownDoc``), so the work per
frame does not grow with the reply. At the bottom the view follows the end; scrolling up
stops following, scrolling back to the end follows again.

Keys (``MESSAGE_BINDINGS``): the cursor moves between messages and checkpoints (Up/Down,
Home/End), ``c`` copies, Enter expands a checkpoint; a click selects (and toggles a
checkpoint).
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import BindingType
from textual.geometry import Region, Size
from textual.message import Message as TextualMessage
from textual.scroll_view import ScrollView
from textual.strip import Strip
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

KEEP_RENDERED = 400
"""Entries whose rendered lines are kept (the most recently drawn); the rest are rendered
again when they come back into view."""

GUTTER = 2
"""The bar left of each entry and a space."""

RIGHT_PAD = 1


class Transcript(ScrollView, can_focus=True):
    """The open chat's messages, oldest first."""

    BINDINGS: ClassVar[list[BindingType]] = MESSAGE_BINDINGS

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "transcript--bar",
        "transcript--bar-user",
        "transcript--bar-assistant",
        "transcript--bar-warning",
        "transcript--bar-error",
        "transcript--bar-checkpoint",
        "transcript--bar-selected",
        "transcript--selected",
        "transcript--user-role",
        "transcript--user-body",
        "transcript--assistant-role",
        "transcript--marker",
        "transcript--marker-warning",
        "transcript--marker-error",
        "transcript--note",
        "transcript--checkpoint",
        "transcript--checkpoint-inactive",
        "transcript--summary",
        "transcript--hint",
    }

    class CopyRequested(TextualMessage):
        """The user asked to copy an entry's text (a message, or a checkpoint's summary)."""

        def __init__(self, entry: Entry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.entries: list[Entry] = []
        """Everything shown, in order."""
        self.cursor: int | None = None
        """The index of the selected entry (shown while the transcript has focus)."""
        self.follow = True
        """The view stays at the end as the transcript grows."""
        self._width = 0
        self._heights: list[int] = []
        self._offsets: list[int] = [0]
        self._offsets_dirty = True
        self._stale: set[int] = set()
        self._rendered: OrderedDict[int, Entry] = OrderedDict()
        self._timer: Timer | None = None
        self._styles: dict[str, Style] = {}
        self._adjusting = False
        self._anchor: tuple[int, int] | None = None
        """(entry, line within it) at the top of the last frame: what the view holds still."""
        self._last_top = 0
        self._base = Style()

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

    def _relayout(self) -> None:
        """The list of entries changed in the middle: estimate heights again."""
        if self.cursor is not None and self.cursor >= len(self.entries):
            self.cursor = None
        self._heights = []
        self._width = 0
        self._anchor = None
        self._rendered.clear()
        self._offsets_dirty = True
        self.refresh()

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

    # -- layout ------------------------------------------------------------------------

    @staticmethod
    def _gap(index: int) -> int:
        """A blank line above every entry but the first."""
        return 1 if index else 0

    @property
    def content_width(self) -> int:
        """The width entries are rendered at (the view less the gutter and the padding)."""
        return max(self.scrollable_content_region.width - GUTTER - RIGHT_PAD, 1)

    def _entry_changed(self, entry: Entry) -> None:
        try:
            index = len(self.entries) - 1 - self.entries[::-1].index(entry)
        except ValueError:
            return
        self._stale.add(index)
        self.refresh()

    def _estimate_all(self, width: int) -> None:
        self._width = width
        self._heights = [
            self._gap(i) + (e.rendered_height(width) or e.estimate(width))
            for i, e in enumerate(self.entries)
        ]
        self._stale.clear()
        self._offsets_dirty = True

    def _offsets_now(self) -> list[int]:
        if self._offsets_dirty:
            self._offsets = [0, *itertools.accumulate(self._heights)]
            self._offsets_dirty = False
        return self._offsets

    def _index_at(self, y: int) -> int:
        """The entry holding virtual line ``y`` (clamped to the entries)."""
        offsets = self._offsets_now()
        return max(0, min(bisect_right(offsets, y) - 1, len(self.entries) - 1))

    def _lines_of(self, index: int) -> list[Strip]:
        entry = self.entries[index]
        lines = entry.lines(self._width, self.app.console, self._style)
        self._rendered[id(entry)] = entry
        self._rendered.move_to_end(id(entry))
        while len(self._rendered) > KEEP_RENDERED:
            _, old = self._rendered.popitem(last=False)
            old.forget()
        return lines

    def _prepare(self) -> None:
        """Before a frame: render the entries in view, correct their heights, keep the view
        still (or at the end, when following), and size the scroll area.

        "Still" means anchored to content the user already saw: the entry that was at the top
        of the last frame keeps its place relative to the user's scroll since then, so an
        entry above it growing from its estimate to its real height pushes the view up
        instead of shifting what the user is reading. A jump (a scroll of more than a
        screen, ``scroll_to_entry``) anchors on the new top instead.
        """
        if not self.entries:
            return
        width = self.content_width
        if width != self._width or len(self._heights) != len(self.entries):
            self._estimate_all(width)
            self._anchor = None
        for index in self._stale:
            if index < len(self._heights):
                entry = self.entries[index]
                height = entry.rendered_height(width) or entry.estimate(width)
                self._heights[index] = self._gap(index) + height
        self._stale.clear()
        self._offsets_dirty = True
        view = max(self.scrollable_content_region.height, 1)
        top = round(self.scroll_y)
        anchor = self._anchor
        if anchor is not None and (
            anchor[0] >= len(self.entries) or abs(top - self._last_top) >= view
        ):
            anchor = None
        if anchor is None:
            index = self._index_at(top)
            anchor = (index, top - self._offsets_now()[index])
        else:
            anchor = (anchor[0], anchor[1] + top - self._last_top)
        for _ in range(8):
            top = round(self.scroll_y)
            first, last = self._index_at(top), self._index_at(top + view)
            changed = False
            for index in range(first, last + 1):
                height = self._gap(index) + len(self._lines_of(index))
                if height != self._heights[index]:
                    self._heights[index] = height
                    changed = True
            self._offsets_dirty = True
            offsets = self._offsets_now()
            total = offsets[-1]
            self._set_virtual_height(total)
            if self.follow:
                target = max(0, total - view)
            else:
                target = max(0, min(offsets[anchor[0]] + anchor[1], total - view))
            self._scroll_quietly(target)
            if not changed and target == top:
                break
        top = round(self.scroll_y)
        index = self._index_at(top)
        self._anchor = (index, top - self._offsets_now()[index])
        self._last_top = top

    def _set_virtual_height(self, total: int) -> None:
        """Size the scroll area. Setting ``virtual_size`` makes Textual lay out (and draw) the
        whole screen again, which cost most of a streamed frame; that is only needed when the
        scrollbar appears or goes. Otherwise the scrollbar is told the new size directly."""
        size = Size(self.scrollable_content_region.width, total)
        old = self.virtual_size
        if size == old:
            return
        view = self.scrollable_content_region.height
        if (total > view) != (old.height > view) or size.width != old.width:
            self.virtual_size = size
            return
        self.set_reactive(ScrollView.virtual_size, size)
        if self.show_vertical_scrollbar:
            scrollbar = self.vertical_scrollbar
            scrollbar.window_virtual_size = total
            scrollbar.window_size = view
            scrollbar.refresh()

    def _scroll_quietly(self, y: int) -> None:
        """Scroll without it counting as the user's scroll (``follow`` is unchanged)."""
        if round(self.scroll_y) == y:
            return
        self._adjusting = True
        try:
            self.set_reactive(ScrollView.scroll_y, float(y))
            self.set_reactive(ScrollView.scroll_target_y, float(y))
            if self.show_vertical_scrollbar:
                self.vertical_scrollbar.position = y
            self.refresh()
        finally:
            self._adjusting = False

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if not self._adjusting:
            self.follow = round(new_value) >= self.max_scroll_y

    def anchor(self, anchor: bool = True) -> None:
        """Follow the end (and go there now)."""
        self.follow = anchor
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        for entry in self.entries:
            entry.forget()
            entry.version += 1
        self._rendered.clear()
        self.refresh()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            # the selection's background is translucent ($boost): only a full style blends it
            # over the transcript's background (a partial one would make it opaque white)
            partial = name not in ("selected", "bar-selected")
            style = self.get_component_rich_style(f"transcript--{name}", partial=partial)
            self._styles[name] = style
        return style

    # -- drawing -----------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        self._prepare()
        self._base = self.rich_style  # once a frame: it is not cheap (0.15 ms a call)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        line_y = round(self.scroll_y) + y
        width = self.scrollable_content_region.width
        base = self._base
        offsets = self._offsets_now()
        if not self.entries or line_y >= offsets[-1]:
            return Strip.blank(width, base)
        index = self._index_at(line_y)
        local = line_y - offsets[index] - self._gap(index)
        lines = self._lines_of(index)
        if local < 0 or local >= len(lines):
            return Strip.blank(width, base)
        entry = self.entries[index]
        selected = self.has_focus and index == self.cursor
        source = lines[local]
        bar_name = "bar-selected" if selected else entry.bar
        cached = entry.drawn.get(local)
        # a frozen Markdown line is the same object from frame to frame: its screen line too
        if cached is not None and cached[0] is source and cached[1] == (bar_name, width):
            return cached[2]
        strip = Strip.join(
            [
                Strip(
                    [
                        Segment("▌" if entry.selectable else " ", self._style(bar_name)),
                        Segment(" "),
                    ],
                    GUTTER,
                ),
                source,
            ]
        )
        strip = strip.crop_extend(0, width, None)
        if selected:
            strip = strip.apply_style(self._style("selected"))
        strip = strip.apply_style(base)
        if len(entry.drawn) > 4 * max(self.scrollable_content_region.height, 1):
            entry.drawn.clear()  # a cache of the lines in view, not of the whole entry
        entry.drawn[local] = (source, (bar_name, width), strip)
        return strip

    def lines_of(self, entry: Entry) -> list[Strip]:
        """``entry``'s lines as drawn at the current width (without the gutter)."""
        return entry.lines(self.content_width, self.app.console, self._style)

    def text_of(self, entry: Entry) -> str:
        """``entry``'s lines as drawn at the current width, as plain text (no styles)."""
        return "\n".join(line.text.rstrip() for line in self.lines_of(entry))

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
