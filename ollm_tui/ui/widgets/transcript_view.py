"""The line machinery under the transcript: a ``ScrollView`` that draws a list of entries
(``transcript_entries.py``) line by line, rendering only what is in view.

An entry never drawn counts with a height estimated from its text; when it comes into view
it is rendered and the estimate corrected, keeping what is on screen still (the view is
anchored on content the user already saw). Rendered lines are kept for the most recently
drawn entries only (``KEEP_RENDERED``), so memory stays bounded however far the user
scrolls. At the end the view follows the content as it grows (``follow``); scrolling up
stops following, scrolling back to the end follows again. ``Transcript``
(``transcript.py``) adds the chat's operations, the stream and the cursor keys.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections import OrderedDict
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ollm_tui.ui.widgets.transcript_entries import Entry

KEEP_RENDERED = 400
"""Entries whose rendered lines are kept (the most recently drawn); the rest are rendered
again when they come back into view."""

GUTTER = 2
"""The bar left of each entry and a space."""

RIGHT_PAD = 1


class EntryView(ScrollView):
    """Draws ``entries`` line by line, with a coloured bar left of each and the entry under
    ``cursor`` tinted while the view has focus."""

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
        self._styles: dict[str, Style] = {}
        self._adjusting = False
        self._anchor: tuple[int, int] | None = None
        """(entry, line within it) at the top of the last frame: what the view holds still."""
        self._last_top = 0
        self._base = Style()

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
