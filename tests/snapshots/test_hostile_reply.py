"""Snapshot of a reply made of escape sequences (screen clear, title, OSC 52, OSC 8, cursor
moves, a bidi override): every one is shown as visible text, the screen is intact."""

from __future__ import annotations

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from tests.app.helpers import FAKE_MODEL, make_test_app
from tests.fakes import FakeEngine
from tests.snapshots.test_main_screen import machine, settle

HOSTILE_REPLY = (
    "Clear: \x1b[2J\x1b[H done.\n\n"
    "Title: \x1b]0;PWNED\x07 and \x1b]2;PWNED\x1b\\\n\n"
    "Clipboard: \x1b]52;c;cm0gLXJmIH4=\x07\n\n"
    "Link: \x1b]8;;https://evil.example/\x1b\\harmless\x1b]8;;\x1b\\\n\n"
    "Cursor: \x1b[10A\x1b[5C\x1b[?1049h\x1b[?25l and 8-bit \x9b2J\n\n"
    "Bidi: access = \u202e\u2066 // admin\u2069\u2066 ok"
)


def test_reply_with_escape_sequences(snap_compare, settings: Settings, store: Store) -> None:
    chat = store.create_chat("Title \x1b]0;PWNED\x07 chat")
    store.add_message(chat.id, "user", "Say \x1b[31mred\x1b[0m")
    store.add_message(chat.id, "assistant", HOSTILE_REPLY, meta={"model": FAKE_MODEL.stem})
    app, _ = make_test_app(settings, store, FakeEngine(), FAKE_MODEL, memory_probe=machine())
    assert snap_compare(app, terminal_size=(100, 32), run_before=settle)
