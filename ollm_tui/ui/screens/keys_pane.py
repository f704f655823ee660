"""The keys pane: every binding from the registry, and remapping by pressing the new key.

The table is generated from :data:`ollm_tui.ui.bindings.REGISTRY` with the user's keymap
applied. Enter on a row asks for the new key (:class:`KeyCapture`); a key that another
binding already uses where this one is active is refused and the conflict is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Label

from ollm_tui.ui.bindings import (
    KEYS_PANE_BINDINGS,
    PANE_BINDINGS,
    REGISTRY,
    BindingEntry,
    key_problem,
    split_keys,
)
from ollm_tui.ui.safe_text import safe, safe_str

if TYPE_CHECKING:
    from ollm_tui.ui.app import OllmApp


_KEY_NAMES = {"pageup": "PgUp", "pagedown": "PgDn", "escape": "Esc", "slash": "/"}


def _key_name(key: str) -> str:
    *modifiers, last = key.split("+")
    if last in _KEY_NAMES:
        last = _KEY_NAMES[last]
    elif len(last) == 1:
        last = last.upper() if modifiers else last  # a letter alone keeps its case: c, R
    else:
        last = last.capitalize()
    return "+".join([*(m.capitalize() for m in modifiers), last])


def show_keys(keys: str) -> str:
    """Key names as a person reads them: ``ctrl+j,alt+enter`` -> ``Ctrl+J, Alt+Enter``."""
    return ", ".join(_key_name(k) for k in split_keys(keys))


class KeyCapture(ModalScreen[str | None]):
    """Waits for one key press and dismisses with its name; Esc cancels.

    A key that conflicts is refused here (the dialog stays open and says which binding uses
    it), so only a usable key ever leaves the dialog.
    """

    def __init__(self, entry: BindingEntry, keymap: dict[str, str]) -> None:
        super().__init__()
        self.entry = entry
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog") as box:
            box.border_title = safe(f"Change {self.entry.id}")
            yield Label(
                safe(
                    f"{self.entry.description or self.entry.id}: press the new key (Esc cancels)."
                ),
                classes="prompt",
            )
            yield Label("", id="capture-hint", classes="hint")

    async def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        if event.key == "escape":
            self.dismiss(None)
            return
        problem = key_problem(self.entry.id, event.key, self.keymap)
        if problem:
            self.query_one("#capture-hint", Label).update(
                safe(f"{show_keys(event.key)}: {problem}. Press another key.")
            )
            return
        self.dismiss(event.key)


class KeysPane(Screen[None]):
    """Lists every binding; Enter changes the highlighted one, r resets it, R resets all."""

    BINDINGS: ClassVar[list[BindingType]] = [*PANE_BINDINGS, *KEYS_PANE_BINDINGS]

    def __init__(self) -> None:
        super().__init__(id="keys-pane")

    def compose(self) -> ComposeResult:
        table: DataTable[str] = DataTable(id="keys-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Footer(compact=True, show_command_palette=False)

    @property
    def ollm(self) -> OllmApp:
        """The app (typed)."""
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.border_title = "Keys"
        table.border_subtitle = "Enter change · r reset · R reset all · Esc back"
        table.add_column("Keys", key="keys")
        table.add_column("Id", key="id")
        table.add_column("Where", key="where")
        table.add_column("What it does", key="what")
        for entry in REGISTRY:
            table.add_row(*self._cells(entry), key=entry.id)
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click) on a row: change that binding."""
        event.stop()
        self.action_remap()

    def _cells(self, entry: BindingEntry) -> tuple[Text, ...]:
        keys = self.ollm.keymap.get(entry.id)
        shown = show_keys(keys or entry.keys)
        if keys:
            shown += " *"
        return (
            Text(safe_str(shown)),
            Text(safe_str(entry.id)),
            Text(safe_str(entry.group)),
            Text(safe_str(entry.tooltip or entry.description)),
        )

    def refresh_rows(self) -> None:
        """Show the keys in force (changed ones end with *)."""
        table = self.query_one(DataTable)
        for entry in REGISTRY:
            table.update_cell(entry.id, "keys", self._cells(entry)[0])

    def _highlighted(self) -> BindingEntry | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((e for e in REGISTRY if e.id == key), None)

    def action_remap(self) -> None:
        """Ask for the new key of the highlighted binding."""
        entry = self._highlighted()
        if entry is None:
            return

        def chosen(key: str | None) -> None:
            if key:
                self.ollm.remap(entry.id, key)
                self.refresh_rows()

        self.app.push_screen(KeyCapture(entry, dict(self.ollm.keymap)), chosen)

    def action_reset(self) -> None:
        """Give the highlighted binding its default keys back."""
        entry = self._highlighted()
        if entry is not None:
            self.ollm.remap(entry.id, None)
            self.refresh_rows()

    def action_reset_all(self) -> None:
        """Give every binding its default keys back (asks first)."""
        self.ollm.action_reset_keymap()
