"""Any terminal size, at any moment: down to 1x1 and back while a reply streams, during a
compression, and with every overlay open (issue 12).

The first test is the reported crash: 120x40 straight to 30x8 while a reply streamed ended
in ``ValueError: range() arg 3 must not be zero`` (the composer's placeholder wrapped at
width 0, see ``Composer.render_line``).
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.app import OllmApp
from ollm_tui.ui.too_small import TooSmallScreen, is_too_small
from tests.app.helpers import make_test_app, send, wait_ready, wait_until
from tests.app.test_compression_app import REPLY, ScriptedSummariser, fill, small, use
from tests.fakes import FakeEngine

WALK = [(60, 20), (30, 8), (10, 3), (1, 1), (2, 1), (1, 2), (120, 40)]
"""The sizes every test walks through, ending at the normal size."""

LONG_REPLY = " ".join(f"word{i}" for i in range(240))


class GatedEngine(FakeEngine):
    """Streams the first half of ``LONG_REPLY``, then waits for ``gate`` before the rest:
    the reply is certainly still streaming while a test resizes."""

    def __init__(self) -> None:
        super().__init__(reply=LONG_REPLY, delay_s=0.002)
        self.gate = threading.Event()

    def stream(self, messages: Any, params: Any, cancel: Any) -> Any:
        for i, event in enumerate(super().stream(messages, params, cancel)):
            if i == 120:  # (at most 30 s: a failed test must not hang its teardown)
                self.gate.wait(30)
            yield event


def walk(seed: int) -> list[tuple[int, int]]:
    """``WALK`` with a few random sizes (from 1x1 up) before its end, then 120x40."""
    rng = random.Random(seed)
    extra = [(rng.randint(1, 130), rng.randint(1, 45)) for _ in range(4)]
    return [(120, 40), (30, 8), *WALK[:-1], *extra, (120, 40)]


async def resize_through(pilot: Any, app: OllmApp, sizes: list[tuple[int, int]]) -> None:
    """Resize to each size in turn and let the app paint; it must keep running, and show
    the "too small" screen exactly when the size is below 40x10."""
    for width, height in sizes:
        await pilot.resize_terminal(width, height)
        await pilot.pause(0.05)
        assert app.is_running, f"the app died at {width}x{height}"
        small_now = is_too_small(app.size)
        await wait_until(
            pilot,
            lambda s=small_now: isinstance(app.screen, TooSmallScreen) == s,
            what=f"the too-small screen {'shown' if small_now else 'gone'} at {width}x{height}",
        )


async def test_shrinking_at_once_while_a_reply_streams_does_not_crash(
    settings: Settings, store: Store
):
    app, _ = make_test_app(settings, store, FakeEngine(reply=LONG_REPLY, delay_s=0.01))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: app.turn is not None and app.turn.buffer.total_chars > 20)
        await pilot.resize_terminal(30, 8)  # the reported resize
        for _ in range(5):
            await pilot.pause(0.05)
        assert app.is_running and isinstance(app.screen, TooSmallScreen)


async def test_down_to_1x1_and_back_while_a_reply_streams(settings: Settings, store: Store):
    engine = GatedEngine()
    app, notes = make_test_app(settings, store, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: app.turn is not None and app.turn.buffer.total_chars > 20)
        turn = app.turn
        await resize_through(pilot, app, walk(1))
        assert app.turn is turn, "the reply must still be streaming after the walk"
        engine.gate.set()
        await wait_until(pilot, lambda: app.turn is None, timeout=30, what="the reply to end")
        reply = store.messages(app.chat.id)[-1]
        assert reply.status == "complete" and reply.content == LONG_REPLY
        await wait_until(
            pilot, lambda: app.transcript.last_reply().text == LONG_REPLY, what="the full reply"
        )
        assert app.focused is app.composer
        assert not notes.messages("error")


async def test_down_to_1x1_and_back_during_a_compression(settings: Settings, store: Store):
    gate = threading.Event()
    app, notes = make_test_app(small(settings), store, FakeEngine(reply=REPLY))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        use(app, ScriptedSummariser(gate))
        await fill(pilot, app)
        await app.run_action("compress_now")
        await wait_until(pilot, lambda: "compressing…" in app.status_line.text)
        await resize_through(pilot, app, walk(2))
        assert app.compression is not None, "the compression must still be running"
        gate.set()
        await wait_until(pilot, lambda: notes.has("Compressed"), timeout=30)
        assert len(store.all_checkpoints(app.chat.id)) == 1
        assert not notes.messages("error")


def _palette_open(app: OllmApp) -> bool:
    return "CommandPalette" in type(app.screen).__name__


OVERLAYS = {
    "rename dialog": (
        "screen.rename_chat",
        lambda app: type(app.screen).__name__ == "RenameDialog",
    ),
    "docs pane (F1)": ("show_pane('docs')", lambda app: app.pane == "docs"),
    "keys pane (F5)": ("show_pane('keys')", lambda app: app.pane == "keys"),
    "settings (F9)": ("show_settings", lambda app: type(app.screen).__name__ == "SettingsScreen"),
    "command palette": ("command_palette", _palette_open),
}


@pytest.mark.parametrize("name", list(OVERLAYS))
async def test_down_to_1x1_and_back_with_an_overlay_open_while_a_reply_streams(
    settings: Settings, store: Store, name: str
):
    action, is_open = OVERLAYS[name]
    engine = GatedEngine()
    app, notes = make_test_app(settings, store, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: app.turn is not None and app.turn.buffer.total_chars > 20)
        await app.run_action(action)
        await wait_until(pilot, lambda: is_open(app), what=f"the {name} to open")
        overlay = app.screen
        await resize_through(pilot, app, walk(3))
        assert app.screen is overlay and is_open(app), f"the {name} must be as it was"
        assert app.turn is not None, "the reply must still be streaming after the walk"
        engine.gate.set()
        await wait_until(pilot, lambda: app.turn is None, timeout=30, what="the reply to end")
        assert store.messages(app.chat.id)[-1].content == LONG_REPLY
        assert not notes.messages("error")


async def test_a_dialog_opened_while_too_small_stays_under_the_too_small_screen(
    settings: Settings, store: Store
):
    from ollm_tui.ui.screens.chat import ChatScreen
    from ollm_tui.ui.screens.dialogs import ConfirmDialog

    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.resize_terminal(30, 8)
        await wait_until(pilot, lambda: isinstance(app.screen, TooSmallScreen), what="too small")
        answers: list[bool | None] = []
        dialog = ConfirmDialog("Delete chat", "Delete it?")
        app.push_screen(dialog, answers.append)  # e.g. a worker's question, or a key
        await pilot.pause(0.05)
        await wait_until(
            pilot, lambda: isinstance(app.screen, TooSmallScreen), what="too small on top"
        )
        assert dialog in app.screen_stack  # covered, not closed
        await pilot.resize_terminal(120, 40)
        await wait_until(pilot, lambda: app.screen is dialog, what="the dialog back on top")
        await pilot.press("escape")
        await wait_until(
            pilot, lambda: isinstance(app.screen, ChatScreen), what="the chat back on top"
        )
        assert not any(isinstance(s, TooSmallScreen) for s in app.screen_stack)
        assert answers == [False]
