"""The composer: a multi-line text area where Enter sends and Ctrl+J adds a line.

Many terminals send the same bytes for Shift+Enter and Enter, so Shift+Enter can only add a
line where the terminal tells them apart (kitty keyboard protocol and friends); Ctrl+J
always works, and so does Alt+Enter in most terminals.

The composer never clears itself: the app clears it once it has accepted (or queued) the
message, so a refused message (no model, too long) stays where it was typed. Up in an empty
composer takes the newest queued message back, or else recalls the last one sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip
from textual.widgets import TextArea

from ollm_tui.ui.bindings import COMPOSER_BINDINGS
from ollm_tui.ui.safe_text import SafeTextArea

PLACEHOLDER = "Message… (Enter sends · Ctrl+J new line)"

APP_KEYS = {"ctrl+d", "ctrl+y"}
"""Keys ``TextArea`` binds (delete right, redo) that belong to the app here."""


def _without_keys(bindings: list[BindingType], keys: set[str]) -> list[BindingType]:
    """``bindings`` with ``keys`` taken out of every ``Binding``."""
    kept: list[BindingType] = []
    for binding in bindings:
        if not isinstance(binding, Binding):
            kept.append(binding)
            continue
        left = [k for k in binding.key.split(",") if k.strip() not in keys]
        if left:
            kept.append(replace(binding, key=",".join(left)))
    return kept


class Composer(SafeTextArea, inherit_bindings=False):
    """Where the user writes. Posts ``Composer.Submitted`` on Enter with non-blank text.
    Pasted or recalled control characters are drawn as visible ones and sent as they are."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *_without_keys(TextArea.BINDINGS, APP_KEYS),
        *COMPOSER_BINDINGS,
    ]

    class Submitted(Message):
        """The user pressed Enter with some text."""

        def __init__(self, composer: Composer, text: str) -> None:
            super().__init__()
            self.composer = composer
            self.text = text

        @property
        def control(self) -> Composer:
            """The composer that sent the message."""
            return self.composer

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("placeholder", PLACEHOLDER)
        kwargs.setdefault("soft_wrap", True)
        kwargs.setdefault("show_line_numbers", False)
        kwargs.setdefault("tab_behavior", "focus")
        kwargs.setdefault("highlight_cursor_line", False)
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.recall: str | None = None
        """Text that Up recalls into an empty composer (the last message sent)."""
        self.take_back: Callable[[], str | None] | None = None
        """Takes the newest queued message back (the app sets it); Up in an empty composer
        asks it before recalling."""

    def render_line(self, y: int) -> Strip:
        """One line of the composer; blank while it has no room for text.

        Textual's ``TextArea`` wraps its placeholder at the content width, and Rich's
        ``chop_cells`` raises ``ValueError`` at width 0. The composer gets width 0 for a
        frame when the terminal shrinks a lot at once (120x40 to 30x8): the screen is laid
        out at the new size with the old breakpoint classes (the 28-cell chat list still
        shown) before the new ones apply, and a streaming reply repaints in between.
        """
        if self.content_size.width < 1 or self.content_size.height < 1:
            return Strip.blank(max(self.size.width, 0))
        return super().render_line(y)

    async def _on_key(self, event: events.Key) -> None:
        # Textual also runs TextArea._on_key after this (handlers run along the MRO) unless
        # the default is prevented. Enter must not insert a line: the "submit" binding sends.
        if event.key == "enter":
            event.prevent_default()
        elif event.key == "up" and not self.text:
            text = (self.take_back() if self.take_back else None) or self.recall
            if text:
                event.stop()
                event.prevent_default()
                self.load_text(text)
                self.move_cursor(self.document.end)

    def action_submit(self) -> None:
        """Post ``Submitted`` unless the text is blank."""
        text = self.text
        if text.strip():
            self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        """Insert a line break at the cursor."""
        if not self.read_only:
            start, end = self.selection
            self.replace("\n", start, end, maintain_selection_offset=False)
