"""Switching tier and model in the running app, on the real engine."""

from __future__ import annotations

from textual.widgets import OptionList

from ollm_tui.core.gguf_info import read_gguf_info
from ollm_tui.engine.factory import make_engine
from ollm_tui.engine.planning import place
from ollm_tui.ui.screens.pickers import ModelPicker, TierPicker
from tests.app.helpers import make_test_app, send, wait_ready, wait_until


async def test_tier_then_model_switch_on_the_real_engine(
    settings, store, smollm_path, gemma_path
) -> None:
    settings = settings.with_(temperature=0.0, max_tokens=8)
    placement = place(settings, read_gguf_info(smollm_path))
    engine, errors = make_engine(settings, lazy=True)
    assert not errors  # (a tuple of profile problems)
    app, notes = make_test_app(
        settings, store, engine, smollm_path, load_options=placement.options, placement=placement
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        assert engine.info is not None and engine.info.n_ctx == placement.n_ctx
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, TierPicker))
        await pilot.press("home", "enter")  # 2K
        await wait_until(
            pilot, lambda: engine.info is not None and engine.info.n_ctx == 1536, timeout=60
        )
        await wait_ready(pilot)
        await send(pilot, "Say hi.")
        await wait_until(
            pilot,
            lambda: (r := app.transcript.last_reply()) is not None and r.status == "complete",
            timeout=60,
        )
        await pilot.press("f3")
        await wait_until(
            pilot, lambda: isinstance(app.screen, ModelPicker) and app.screen.rows, timeout=30
        )
        picker = app.screen
        assert isinstance(picker, ModelPicker)
        index = next(i for i, r in enumerate(picker.rows) if r.entry.path == gemma_path)
        picker.query_one("#model-options", OptionList).highlighted = index
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: engine.info is not None and engine.info.path == gemma_path, timeout=90
        )
        await wait_ready(pilot)
        assert engine.info.n_ctx == app.placement.n_ctx and app.placement.plan.chosen.label != "2K"
        dividers = [m.content for m in store.messages(app.chat.id) if m.role == "divider"]
        assert len(dividers) == 2 and "context 2K (1536 tokens)" in dividers[0]
        assert dividers[1].startswith("Switched to gemma-3-270m-q4_k_m")
        assert not notes.messages("error")
    engine.close()
