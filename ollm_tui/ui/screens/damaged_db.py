"""The question asked before the chat app opens on a damaged chat database: set the file
aside (renamed under a dated name, never deleted) and start a fresh database, or quit.

A tiny standalone app: the chat app needs an open database, so this runs first
(``cli/chat.cmd_app``) and returns the answer. Nothing happens here; the caller acts on a
yes. No is focused, so Enter alone never renames anything; Esc and Ctrl+Q are no.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label

from ollm_tui.ui.safe_text import safe


def question(path: Path, reason: str) -> str:
    """The dialog's text: which file, why, and what yes does."""
    return (
        f"The chat database {path} is damaged ({reason}).\n\n"
        f"Set it aside as {path.name}.damaged-DATE-TIME (with its -wal and -shm files; "
        "nothing is deleted) and start a fresh database? The old chats stay in that file "
        "for recovery tools such as `sqlite3 FILE .recover`.\n\n"
        "No quits and changes nothing."
    )


class DamagedDatabaseApp(App[bool]):
    """Asks whether to set a damaged database aside; ``return_value`` is the answer
    (True: set it aside; False or None: leave it)."""

    TITLE = "ollm: damaged chat database"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,ctrl+q", "answer(False)", "No", show=False),
        Binding("left,right", "focus_next", show=False),
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n", "answer(False)", "No", show=False),
    ]
    DEFAULT_CSS = """
    DamagedDatabaseApp {
        align: center middle;
    }
    DamagedDatabaseApp #dialog {
        width: 80%;
        max-width: 80;
        height: auto;
        border: round $error;
        padding: 1 2;
    }
    DamagedDatabaseApp #question {
        width: 1fr;
    }
    DamagedDatabaseApp .buttons {
        height: auto;
        margin-top: 1;
        align: right middle;
    }
    DamagedDatabaseApp Button {
        margin-left: 2;
    }
    """

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__()
        self.path = Path(path)
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            box.border_title = "Damaged chat database"
            yield Label(safe(question(self.path, self.reason)), id="question")
            with Horizontal(classes="buttons"):
                yield Button("Set aside, start fresh", id="yes", variant="warning")
                yield Button("No, quit", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.exit(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.exit(yes)


def ask_set_aside(path: Path, reason: str) -> bool:
    """Run the dialog in this terminal; True only on an explicit yes."""
    return bool(DamagedDatabaseApp(path, reason).run())
