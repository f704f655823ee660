"""The app's key bindings in one place, each with an ``id`` so a user keymap can rebind it.

The composer gives up ``TextArea``'s own ``ctrl+d`` (delete right) and ``ctrl+y`` (redo)
so these app keys work while it has focus. App bindings are not ``priority`` (except quit),
so a dialog's inputs keep their usual keys; ``OllmApp.check_action`` also turns the chat
actions off while a dialog is open.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

APP_BINDINGS: list[BindingType] = [
    Binding(
        "escape",
        "stop",
        "Stop",
        id="stop",
        tooltip="Stop the reply being written; the text so far is kept and marked stopped.",
    ),
    Binding(
        "ctrl+r",
        "regenerate",
        "Regenerate",
        id="regenerate",
        tooltip="Throw away the last reply and write a new one.",
    ),
    Binding(
        "ctrl+n",
        "new_chat",
        "New",
        id="new_chat",
        tooltip="Start a new chat.",
    ),
    Binding(
        "ctrl+b",
        "toggle_chats",
        "Chats",
        id="toggle_chats",
        tooltip="Show or hide the list of chats.",
    ),
    Binding(
        "f2",
        "rename_chat",
        "Rename",
        id="rename_chat",
        tooltip="Rename the open chat.",
    ),
    Binding(
        "ctrl+d",
        "delete_chat",
        "Delete",
        id="delete_chat",
        tooltip="Delete the open chat (asks first).",
    ),
    Binding(
        "ctrl+y",
        "copy_code",
        "Copy code",
        id="copy_code",
        tooltip="Copy the last fenced code block of the last reply (OSC 52).",
    ),
    Binding(
        "f3",
        "pick_model",
        "Model",
        id="pick_model",
        tooltip="Switch to another model (it reloads at its auto context tier).",
    ),
    Binding(
        "f4",
        "pick_tier",
        "Context",
        id="pick_tier",
        tooltip="Choose the context size; each shows its memory need (the model reloads).",
    ),
    Binding(
        "f8",
        "token_stats",
        "Tokens",
        id="token_stats",
        tooltip="Show the context budget and the token-count cache figures.",
    ),
    Binding(
        "ctrl+q",
        "quit",
        "Quit",
        id="quit",
        tooltip="Quit (a reply being written is stopped and kept).",
        priority=True,
    ),
    Binding("ctrl+c", "help_quit", show=False, system=True),
]
"""Bindings of ``OllmApp`` (which does not inherit ``App``'s); ids: stop, regenerate, new_chat,
toggle_chats, rename_chat, delete_chat, copy_code, pick_model, pick_tier, token_stats, quit. Ctrl+C only explains how to quit."""

MESSAGE_BINDINGS: list[BindingType] = [
    Binding("c", "copy", "Copy", id="copy_message", tooltip="Copy this message (OSC 52)."),
    Binding("up,k", "focus_sibling(-1)", "Previous", id="message_up", show=False),
    Binding("down,j", "focus_sibling(1)", "Next", id="message_down", show=False),
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
