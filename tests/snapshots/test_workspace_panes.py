"""Snapshots of the docs pane, the keys pane and the command palette at 80x24 and 120x40.

The docs pane shows a small fixed guide (``guide/``), so edits to the real user guide do
not change these pictures.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandInput, CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.app import OllmApp
from tests.app.helpers import FAKE_MODEL, make_test_app, wait_until
from tests.fakes import FakeEngine
from tests.snapshots.test_main_screen import machine

GUIDE = Path(__file__).parent / "guide"
SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


def make_app(settings: Settings, store: Store) -> OllmApp:
    chat = store.create_chat("Reverse a list in Python")
    store.add_message(chat.id, "user", "How do I reverse a list?")
    store.add_message(chat.id, "assistant", "Use `items[::-1]`.", meta={"model": FAKE_MODEL.stem})
    app = make_test_app(settings, store, FakeEngine(), FAKE_MODEL, memory_probe=machine())[0]
    app.docs_dir = GUIDE
    return app


async def ready(pilot: Pilot) -> OllmApp:
    await pilot.pause()
    app = pilot.app
    assert isinstance(app, OllmApp)
    app.composer.cursor_blink = False
    await wait_until(pilot, lambda: app.load_state == "ready", what="the model to load")
    await wait_until(pilot, lambda: app.memory_meter.last is not None, what="a memory sample")
    return app


def pane(name: str):
    async def run_before(pilot: Pilot) -> None:
        app = await ready(pilot)
        await app.run_action(f"show_pane('{name}')")
        await wait_until(pilot, lambda: app.pane == name)
        await pilot.pause()

    return run_before


@SIZES
def test_docs_pane(snap_compare, settings: Settings, store: Store, size) -> None:
    assert snap_compare(make_app(settings, store), terminal_size=size, run_before=pane("docs"))


@SIZES
def test_keys_pane(snap_compare, settings: Settings, store: Store, size) -> None:
    assert snap_compare(make_app(settings, store), terminal_size=size, run_before=pane("keys"))


@SIZES
def test_command_palette(snap_compare, settings: Settings, store: Store, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        app = await ready(pilot)
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        app.screen.query_one(CommandInput).cursor_blink = False
        await pilot.press(*"chat")
        palette = app.screen
        results = palette.query_one(CommandList)

        def settled() -> bool:  # the search worker is done and the list is filled
            busy = any(w.is_running for w in app.workers if w.node is palette)
            return not busy and results.option_count > 0

        await wait_until(pilot, settled, timeout=10, what="the palette's search")
        await pilot.pause(0.2)
        await wait_until(pilot, settled, timeout=10, what="the palette's search")

    assert snap_compare(make_app(settings, store), terminal_size=size, run_before=run_before)


def test_settings_screen(snap_compare, settings: Settings, store: Store) -> None:
    async def run_before(pilot: Pilot) -> None:
        app = await ready(pilot)
        await pilot.press("f9")
        await pilot.pause()
        for field in app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    # the form shows the settings file's path: the same on every machine (nothing is saved)
    fixed = settings.with_(config_dir=Path("/home/user/.config/ollm_tui"))
    assert snap_compare(make_app(fixed, store), terminal_size=(80, 24), run_before=run_before)
