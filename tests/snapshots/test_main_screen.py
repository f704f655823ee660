"""Snapshots of the main screen at 80x24 and 120x40 with a fake engine and a seeded chat.

Deterministic on purpose: a fixed fake model path, an isolated data dir, reply figures
taken from stored metadata (not measured), no toasts, and the composer's cursor not blinking.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from ollm_tui.core.hardware import DeviceMemory, GiB, fixed_probe
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.app import OllmApp
from tests.app.helpers import FAKE_MODEL, make_test_app, wait_until
from tests.fakes import FakeEngine

REPLY = """Use slicing, which returns a new list:

```python
items = [1, 2, 3]
print(items[::-1])  # [3, 2, 1]
```

Or call `items.reverse()` to reverse **in place**."""


def seeded_app(settings: Settings, store: Store) -> OllmApp:
    older = store.create_chat("Shell one-liners")
    store.add_message(older.id, "user", "Count lines in all .py files")
    store.add_message(older.id, "assistant", "`find . -name '*.py' | xargs wc -l`")
    chat = store.create_chat("Reverse a list in Python")
    store.add_message(chat.id, "user", "How do I reverse a list in Python? [not markup]")
    store.add_message(
        chat.id,
        "assistant",
        REPLY,
        meta={"model": FAKE_MODEL.stem, "tokens_per_s": 41.5, "ttft_s": 0.12},
    )
    return make_test_app(settings, store, FakeEngine(), FAKE_MODEL, memory_probe=machine())[0]


def machine():
    """A fixed 16 GiB machine, so the memory meter reads the same everywhere."""
    return fixed_probe(ram=DeviceMemory("ram", "system RAM", 16 * GiB, 5 * GiB, 11 * GiB))


async def settle(pilot: Pilot) -> None:
    await pilot.pause()
    app = pilot.app
    assert isinstance(app, OllmApp)
    app.composer.cursor_blink = False
    await wait_until(pilot, lambda: app.load_state == "ready", what="the model to load")
    await wait_until(pilot, lambda: app.memory_meter.last is not None, what="a memory sample")
    await wait_until(pilot, lambda: app.context.counts > 0, what="the context meter")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_main_screen(snap_compare, settings: Settings, store: Store, size):
    assert snap_compare(seeded_app(settings, store), terminal_size=size, run_before=settle)


def test_stopped_reply_marker(snap_compare, settings: Settings, store: Store):
    chat = store.create_chat("Stopped")
    store.add_message(chat.id, "user", "Tell me a long story")
    store.add_message(
        chat.id,
        "assistant",
        "Once upon a time there was a",
        status="stopped",
        meta={"model": FAKE_MODEL.stem},
    )
    store.add_message(chat.id, "user", "And another")
    store.add_message(
        chat.id,
        "assistant",
        "It was a dark and",
        status="error",
        meta={"model": FAKE_MODEL.stem, "error": "out of memory [while decoding]"},
    )
    app = make_test_app(settings, store, FakeEngine(), FAKE_MODEL, memory_probe=machine())[0]
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)
