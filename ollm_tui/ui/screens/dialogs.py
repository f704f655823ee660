"""Small modal dialogs: rename a chat, confirm a deletion."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from ollm_tui.ui.bindings import DIALOG_BINDINGS
from ollm_tui.ui.safe_text import SafeInput, safe


class RenameDialog(ModalScreen[str | None]):
    """Asks for a new chat title. Dismisses with the title, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        DIALOG_BINDINGS[0],
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog") as box:
            box.border_title = "Rename chat"
            yield Label("New title (Enter saves, Esc cancels):", classes="prompt")
            yield SafeInput(self._title, id="rename-input", select_on_focus=True)
            yield Label("", id="rename-hint", classes="hint")

    @on(Input.Submitted, "#rename-input")
    def _save(self, event: Input.Submitted) -> None:
        title = event.value.strip()
        if not title:
            self.query_one("#rename-hint", Label).update("A title cannot be empty.")
            return
        self.dismiss(title)

    def action_cancel(self) -> None:
        """Close without renaming."""
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question. No is focused, so Enter alone never confirms."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *DIALOG_BINDINGS[1:],
        Binding("left,right", "app.focus_next", show=False),
    ]

    def __init__(self, title: str, question: str, yes_label: str = "Yes") -> None:
        super().__init__()
        self._title = title
        self._question = question
        self._yes_label = yes_label

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog") as box:
            box.border_title = safe(self._title)
            yield Label(safe(self._question), classes="prompt")
            with Horizontal(classes="buttons"):
                yield Button(safe(self._yes_label), id="yes", variant="error")
                yield Button("No", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)
