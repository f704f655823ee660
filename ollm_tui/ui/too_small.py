"""The "terminal too small" screen: pushed over whatever is open when the terminal gets
smaller than the app can use, popped when it is big enough again.

It covers the chat, panes, pickers, dialogs and the command palette alike, so none of
them has to lay itself out in a 1x1 terminal. Nothing underneath is closed or paused: a
reply keeps streaming, a compression keeps running, and an open dialog is still there
when the screen comes back.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.widgets import Static

MIN_WIDTH = 40
"""Fewest columns the chat screen is laid out for (the ``-tiny`` breakpoint below it)."""
MIN_HEIGHT = 10
"""Fewest rows (the ``-short`` breakpoint below it)."""

TOO_SMALL = f"Terminal too small.\nMake it at least {MIN_WIDTH}×{MIN_HEIGHT}."


def is_too_small(size: Size) -> bool:
    """Whether the app cannot be laid out in a terminal of ``size``."""
    return size.width < MIN_WIDTH or size.height < MIN_HEIGHT


class TooSmallScreen(ModalScreen[None]):
    """Says the terminal is too small; dismisses itself once it is big enough.

    Modal, so the chat's keys are off (``OllmApp.check_action``) while it shows; Ctrl+Q
    still quits. Its background is opaque: nothing underneath shows through.
    """

    DEFAULT_CSS = """
    TooSmallScreen {
        background: $background;
        align: center middle;
    }
    TooSmallScreen > #too-small {
        width: 1fr;
        height: 1fr;
        content-align: center middle;
        text-align: center;
        color: $text-warning;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static(TOO_SMALL, id="too-small", markup=False)

    def on_screen_resume(self) -> None:
        """Back on top (a screen opened over it has closed): go if the size is fine now."""
        if not is_too_small(self.app.size) and self.app.screen is self:
            self.dismiss()
