"""Copying a message and the last code block: the right text, and an honest toast."""

from __future__ import annotations

import pytest

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.clipboard import code_blocks, last_code_block
from ollm_tui.ui.widgets.transcript import ReplyEntry, UserEntry
from tests.app.helpers import make_test_app, wait_until
from tests.fakes import FakeEngine

REPLY = "Two ways:\n\n```python\nfirst = 1\n```\n\nand\n\n```bash\necho one\necho two\n```\n\nDone."


@pytest.fixture
def copied(monkeypatch) -> list[str]:
    sent: list[str] = []
    from ollm_tui.ui.app import OllmApp

    monkeypatch.setattr(OllmApp, "copy_to_clipboard", lambda self, text: sent.append(text))
    return sent


def seed(store: Store, reply: str = REPLY) -> None:
    chat = store.create_chat("Code")
    store.add_message(chat.id, "user", "show me [b]code[/b]")
    store.add_message(chat.id, "assistant", reply)


async def test_c_copies_the_focused_message(settings: Settings, store: Store, copied):
    seed(store)
    app, notes = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("shift+tab")  # from the composer: the transcript, on the last message
        assert app.transcript.has_focus and isinstance(app.transcript.selected, ReplyEntry)
        await pilot.press("c")
        await wait_until(pilot, lambda: copied)
        assert copied == [REPLY]
        assert notes.has(
            f"Sent {len(REPLY)} characters to the clipboard via OSC 52 (needs terminal support)"
        )
        await pilot.press("up")  # moves to the user message
        assert isinstance(app.transcript.selected, UserEntry)
        await pilot.press("c")
        await wait_until(pilot, lambda: len(copied) == 2)
        assert copied[-1] == "show me [b]code[/b]"


async def test_ctrl_y_copies_the_last_code_block(settings: Settings, store: Store, copied):
    seed(store)
    app, notes = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("ctrl+y")  # the composer has focus: ctrl+y is not "redo" here
        await wait_until(pilot, lambda: copied)
        assert copied == ["echo one\necho two"]
        assert notes.has(
            "Sent the last code block (17 characters) to the clipboard via OSC 52 "
            "(needs terminal support)"
        )


async def test_ctrl_y_without_a_code_block_says_so(settings: Settings, store: Store, copied):
    seed(store, reply="Just prose, no code.")
    app, notes = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: notes.calls)
        assert copied == []
        assert notes.has("No code block in the last reply")
        assert not notes.has("Sent")


def test_code_blocks_are_found_without_their_fences():
    assert code_blocks(REPLY) == ["first = 1", "echo one\necho two"]
    assert last_code_block("no code") is None
    assert last_code_block("~~~\ntilde\n~~~") == "tilde"
