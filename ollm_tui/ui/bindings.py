"""The app's key bindings in one place, each with an ``id`` so a user keymap can rebind it.

The composer gives up ``TextArea``'s own ``ctrl+d`` (delete right) and ``ctrl+y`` (redo)
so these app keys work while it has focus. App bindings are not ``priority`` (except quit),
so a dialog's inputs keep their usual keys. The chat's keys (:data:`CHAT_BINDINGS`) are the
chat screen's, so they are off while a dialog or another pane is on top; the rest
(:data:`WORKSPACE_BINDINGS`) are the app's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Command:
    """One command: an action, and how the user reaches it: a key binding (``key``, shown
    in the footer as ``label``, remappable by ``id``), a palette entry (``palette`` as
    "namespace: What it does", with ``help``), or both. ``scope``: where its action runs,
    the chat screen (``chat``) or the app (``app``)."""

    action: str
    palette: str | None = None
    help: str = ""
    key: str | None = None
    label: str = ""
    id: str | None = None
    tooltip: str = ""
    show: bool = True
    priority: bool = False
    scope: Literal["chat", "app"] = "chat"

    def binding(self) -> Binding:
        """The key binding (a command with a ``key``)."""
        assert self.key is not None
        return Binding(
            self.key,
            self.action,
            self.label,
            id=self.id,
            tooltip=self.tooltip,
            show=self.show,
            priority=self.priority,
        )


COMMANDS: tuple[Command, ...] = (
    Command(
        "stop",
        palette="chat: Stop reply",
        help="Stop the reply being written.",
        key="escape",
        label="Stop",
        id="stop",
        tooltip="Stop the reply being written (the text so far is kept and marked stopped), or "
        "hurry a compression.",
    ),
    Command(
        "regenerate",
        palette="chat: Regenerate reply",
        help="Write the last reply again.",
        key="ctrl+r",
        label="Regenerate",
        id="regenerate",
        tooltip="Throw away the last reply and write a new one.",
    ),
    Command(
        "new_chat",
        palette="chat: New chat",
        help="Start a new chat.",
        key="ctrl+n",
        label="New",
        id="new_chat",
        tooltip="Start a new chat.",
    ),
    Command(
        "toggle_chats",
        palette="chat: Show or hide the chat list",
        help="Toggle the sidebar.",
        key="ctrl+b",
        label="Chats",
        id="toggle_chats",
        tooltip="Show or hide the list of chats.",
    ),
    Command(
        "rename_chat",
        palette="chat: Rename…",
        help="Rename the open chat.",
        key="f2",
        label="Rename",
        id="rename_chat",
        tooltip="Rename the open chat.",
    ),
    Command(
        "delete_chat",
        palette="chat: Delete…",
        help="Delete the open chat (asks first).",
        key="ctrl+d",
        label="Delete",
        id="delete_chat",
        tooltip="Delete the open chat (asks first).",
    ),
    Command(
        "copy_code",
        palette="chat: Copy last code block",
        help="Copy the last fenced code block.",
        key="ctrl+y",
        label="Copy code",
        id="copy_code",
        tooltip="Copy the last fenced code block of the last reply (OSC 52).",
    ),
    Command(
        "pick_model",
        palette="model: Switch model…",
        help="Pick another model; it reloads at its auto tier.",
        key="f3",
        label="Model",
        id="pick_model",
        tooltip="Switch to another model (it reloads at its auto context tier).",
    ),
    Command(
        "pick_tier",
        palette="context: Choose context size…",
        help="Pick a context tier; the model reloads.",
        key="f4",
        label="Context",
        id="pick_tier",
        tooltip="Choose the context size; each shows its memory need (the model reloads).",
    ),
    Command(
        "token_stats",
        palette="context: Token stats",
        help="Context budget and token-count cache figures.",
        key="f8",
        label="Tokens",
        id="token_stats",
        tooltip="Show the context budget and the token-count cache figures.",
    ),
    Command(
        "compress_now",
        palette="context: Compress now",
        help="Summarise the older messages into a checkpoint now.",
        scope="app",
    ),
    Command(
        "undo_compression",
        palette="context: Undo last compression",
        help="The model sees the messages of the last compression in full again.",
        scope="app",
    ),
    Command(
        "pick_snapshot",
        palette="context: Snapshots…",
        help="Restore an earlier state of the chat's context.",
        scope="app",
    ),
    Command(
        "export_chat('md')",
        palette="export: Chat as Markdown",
        help="Write the open chat to a .md file.",
        scope="app",
    ),
    Command(
        "export_chat('json')",
        palette="export: Chat as JSON",
        help="Write the open chat to a .json file.",
        scope="app",
    ),
    Command(
        "show_pane('chat')",
        palette="pane: Chat",
        help="Back to the chat.",
        scope="app",
    ),
    Command(
        "show_pane('docs')",
        palette="pane: Docs",
        help="The user guide.",
        key="f1",
        label="Docs",
        id="show_docs",
        tooltip="Open the user guide (again: back to the chat).",
        scope="app",
    ),
    Command(
        "show_pane('keys')",
        palette="pane: Keys",
        help="Every key binding; change them.",
        key="f5",
        label="Keys",
        id="show_keys",
        tooltip="Show every key binding, and change them (again: back to the chat).",
        scope="app",
    ),
    Command(
        "show_settings",
        palette="app: Settings…",
        help="Change the common settings.",
        key="f9",
        label="Settings",
        id="show_settings",
        tooltip="Change the common settings (saved in config.toml).",
        scope="app",
    ),
    Command(
        "command_palette",
        key="ctrl+p",
        label="Commands",
        id="command_palette",
        tooltip="Search every command: chats, docs, themes, export, keys.",
        show=False,
        priority=True,
        scope="app",
    ),
    Command(
        "quit",
        palette="app: Quit",
        help="Quit ollm (a reply being written is kept).",
        key="ctrl+q",
        label="Quit",
        id="quit",
        tooltip="Quit (a reply being written is stopped and kept).",
        priority=True,
        scope="app",
    ),
    Command(
        "reset_keymap",
        palette="keys: Reset all to defaults",
        help="Forget every changed key (asks first).",
        scope="app",
    ),
)
"""Every command of the chat screen and the app, in the keys pane's order: the one list the
bindings (:data:`CHAT_BINDINGS`, :data:`WORKSPACE_BINDINGS`) and the palette's commands
(``ui/commands.py``) are generated from."""

PALETTE_ORDER: tuple[str, ...] = (
    "new_chat",
    "rename_chat",
    "delete_chat",
    "regenerate",
    "stop",
    "toggle_chats",
    "copy_code",
    "pick_model",
    "pick_tier",
    "token_stats",
    "compress_now",
    "undo_compression",
    "pick_snapshot",
    "export_chat('md')",
    "export_chat('json')",
    "show_pane('chat')",
    "show_pane('docs')",
    "show_pane('keys')",
    "reset_keymap",
    "show_settings",
    "quit",
)
"""The order of the commands in the palette (by action), chats first."""

CHAT_BINDINGS: list[BindingType] = [
    c.binding() for c in COMMANDS if c.key is not None and c.scope == "chat"
]
"""Bindings of the chat screen; ids: stop, regenerate, new_chat, toggle_chats, rename_chat,
delete_chat, copy_code, pick_model, pick_tier, token_stats."""

WORKSPACE_BINDINGS: list[BindingType] = [
    *(c.binding() for c in COMMANDS if c.key is not None and c.scope == "app"),
    Binding("ctrl+c", "help_quit", show=False, system=True),
]
"""Bindings of ``OllmApp`` (which does not inherit ``App``'s); ids: show_docs, show_keys,
show_settings, command_palette, quit. Ctrl+C only explains how to quit."""

APP_BINDINGS: list[BindingType] = CHAT_BINDINGS + WORKSPACE_BINDINGS
"""Every binding that works anywhere (the keys pane's "Anywhere" group), chat keys first."""

MESSAGE_BINDINGS: list[BindingType] = [
    Binding("c", "copy", "Copy", id="copy_message", tooltip="Copy this message (OSC 52)."),
    Binding("up,k", "focus_sibling(-1)", "Previous", id="message_up", show=False),
    Binding("down,j", "focus_sibling(1)", "Next", id="message_down", show=False),
    Binding("home,g", "select_edge(-1)", "First", id="message_first", show=False),
    Binding("end,G", "select_edge(1)", "Last", id="message_last", show=False),
    Binding("enter", "toggle", "Expand", id="message_toggle", show=False),
    Binding("pageup", "scroll_transcript(-1)", "Page up", id="message_page_up", show=False),
    Binding("pagedown", "scroll_transcript(1)", "Page down", id="message_page_down", show=False),
]
"""Bindings of a focused message in the transcript."""

COMPOSER_BINDINGS: list[BindingType] = [
    Binding("enter", "submit", "Send", id="send", tooltip="Send the message.", show=False),
    Binding(
        "ctrl+j,shift+enter,alt+enter",
        "newline",
        "New line",
        id="newline",
        key_display="^j",
        show=False,
        tooltip="Insert a new line (Ctrl+J works in every terminal; "
        "many cannot tell Shift+Enter from Enter).",
    ),
]
"""Bindings of the composer (Enter sends; Ctrl+J, Shift+Enter, Alt+Enter add a line)."""

CHAT_LIST_BINDINGS: list[BindingType] = [
    Binding(
        "delete",
        "delete_highlighted",
        "Delete",
        id="chat_list_delete",
        tooltip="Delete the highlighted chat (asks first).",
    ),
]
"""Bindings of the chat list."""

PANE_BINDINGS: list[BindingType] = [
    Binding(
        "escape", "app.show_pane('chat')", "Chat", id="pane_close", tooltip="Back to the chat."
    ),
]
"""Bindings shared by the docs and keys panes."""

DOCS_BINDINGS: list[BindingType] = [
    Binding(
        "alt+left,backspace", "back", "Back", id="docs_back", tooltip="The page you read before."
    ),
    Binding(
        "alt+right", "forward", "Forward", id="docs_forward", tooltip="Forward again after Back."
    ),
    Binding(
        "t", "toggle_toc", "Contents", id="docs_toc", tooltip="Show or hide the table of contents."
    ),
    Binding(
        "slash", "search", "Search", id="docs_search", tooltip="Search every page of the guide."
    ),
    Binding("h", "home", "Home", id="docs_home", tooltip="The guide's first page."),
]
"""Bindings of the docs pane."""

KEYS_PANE_BINDINGS: list[BindingType] = [
    Binding(
        "enter",
        "remap",
        "Change",
        id="keys_remap",
        tooltip="Press the new key for the highlighted binding.",
    ),
    Binding(
        "r",
        "reset",
        "Reset",
        id="keys_reset",
        tooltip="Give the highlighted binding its default key back.",
    ),
    Binding(
        "R",
        "reset_all",
        "Reset all",
        id="keys_reset_all",
        tooltip="Give every binding its default key back (asks first).",
    ),
]
"""Bindings of the keys pane."""

SETTINGS_BINDINGS: list[BindingType] = [
    Binding(
        "escape",
        "cancel",
        "Cancel",
        id="settings_cancel",
        tooltip="Close the settings without saving.",
    ),
    Binding("ctrl+s", "save", "Save", id="settings_save", tooltip="Check and save the settings."),
]
"""Bindings of the settings screen."""

DIALOG_BINDINGS: list[BindingType] = [
    Binding("escape", "cancel", "Cancel", id="dialog_cancel"),
    Binding("escape,n", "answer(False)", "No", id="dialog_no"),
    Binding("y", "answer(True)", "Yes", id="dialog_yes"),
]
"""Bindings of the rename dialog (dialog_cancel) and the delete confirmation (the others)."""


@dataclass(frozen=True)
class BindingEntry:
    """One remappable binding: what the keys pane, the footer and the palette show."""

    id: str
    keys: str
    """The default keys (comma-separated, Textual key names)."""
    action: str
    description: str
    tooltip: str
    group: str
    """Where it is active: Anywhere, Composer, Message, Chat list, a pane, Settings, Dialogs."""


def _entries(bindings: list[BindingType], group: str) -> list[BindingEntry]:
    out = []
    for b in bindings:
        if isinstance(b, Binding) and b.id:
            out.append(BindingEntry(b.id, b.key, b.action, b.description, b.tooltip, group))
    return out


REGISTRY: tuple[BindingEntry, ...] = tuple(
    _entries(APP_BINDINGS, "Anywhere")
    + _entries(COMPOSER_BINDINGS, "Composer")
    + _entries(MESSAGE_BINDINGS, "Message")
    + _entries(CHAT_LIST_BINDINGS, "Chat list")
    + _entries(PANE_BINDINGS, "Docs and keys panes")
    + _entries(DOCS_BINDINGS, "Docs pane")
    + _entries(KEYS_PANE_BINDINGS, "Keys pane")
    + _entries(SETTINGS_BINDINGS, "Settings")
    + _entries(DIALOG_BINDINGS, "Dialogs")
)
"""Every binding with an id, in display order: the one list the keys pane, the docs and the
keymap checks read. Widgets take their ``BINDINGS`` from the lists above."""

REGISTRY_BY_ID: dict[str, BindingEntry] = {e.id: e for e in REGISTRY}

_SCOPES_SEEN_TOGETHER: dict[str, set[str]] = {
    "Anywhere": {
        "Anywhere",
        "Composer",
        "Message",
        "Chat list",
        "Docs and keys panes",
        "Docs pane",
        "Keys pane",
        "Settings",
        "Dialogs",
    },
    "Composer": {"Anywhere", "Composer"},
    "Message": {"Anywhere", "Message"},
    "Chat list": {"Anywhere", "Chat list"},
    "Docs and keys panes": {"Anywhere", "Docs and keys panes", "Docs pane", "Keys pane"},
    "Docs pane": {"Anywhere", "Docs and keys panes", "Docs pane"},
    "Keys pane": {"Anywhere", "Docs and keys panes", "Keys pane"},
    "Settings": {"Anywhere", "Settings"},
    "Dialogs": {"Anywhere", "Dialogs"},
}


def split_keys(keys: str) -> list[str]:
    """``"ctrl+j,alt+enter"`` as a list of key names."""
    return [k.strip() for k in keys.split(",") if k.strip()]


def conflicts(binding_id: str, key: str, keymap: dict[str, str]) -> list[BindingEntry]:
    """Bindings that already use ``key`` where ``binding_id`` is active (``keymap`` applied)."""
    entry = REGISTRY_BY_ID[binding_id]
    scopes = _SCOPES_SEEN_TOGETHER[entry.group]
    out = []
    for other in REGISTRY:
        if other.id == binding_id or other.group not in scopes:
            continue
        if key in split_keys(keymap.get(other.id, other.keys)):
            out.append(other)
    return out


def _editor_keys() -> dict[str, str]:
    """Keys the composer's editor keeps for itself (key -> what it does)."""
    from ollm_tui.ui.widgets.composer import Composer  # the composer imports this module

    out: dict[str, str] = {}
    for b in Composer.BINDINGS:
        if isinstance(b, Binding) and not b.id:
            for key in split_keys(b.key):
                out[key] = b.description or b.action
    return out


def key_problem(binding_id: str, key: str, keymap: dict[str, str]) -> str | None:
    """Why ``key`` cannot be given to ``binding_id`` (with ``keymap`` in force), or None.

    Refused: a key another binding uses where this one works, a key the composer's editor
    keeps (for bindings that work in the composer), and for app-wide bindings a key that
    types a character (the composer would type it instead).
    """
    entry = REGISTRY_BY_ID[binding_id]
    taken = conflicts(binding_id, key, keymap)
    if taken:
        return "already used by " + ", ".join(f"{e.description or e.id} ({e.id})" for e in taken)
    if entry.group in {"Anywhere", "Composer"}:
        editor = _editor_keys().get(key)
        if editor:
            return f"the message editor uses it ({editor})"
        if entry.group == "Anywhere" and (len(key) == 1 or key in {"space", "tab", "enter"}):
            return "it types a character in the message box; use a key with Ctrl, Alt or an F key"
    return None
