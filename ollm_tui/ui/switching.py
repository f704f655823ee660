"""Switching model or context tier in the running app, and remembering the tier with the chat.

``OllmApp`` mixes this in. The tier is picked once when the app starts (``--tier`` or auto)
and is locked for the session: memory pressure later only warns. It changes only when the
user switches model or tier from a picker (keys or the command palette), which reloads the
model, leaves a divider in the transcript, and stores the new tier in the chat's settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work

from ollm_tui.core.tiers import TierError, size_label
from ollm_tui.engine.base import EngineError, ModelInfo
from ollm_tui.engine.planning import Placement, load_all_profiles, place
from ollm_tui.engine.registry import ModelEntry, resolve
from ollm_tui.engine.remote.models import is_remote_entry
from ollm_tui.ui.screens.pickers import ModelPicker, TierPicker

if TYPE_CHECKING:
    from ollm_tui.ui.app import OllmApp

_Base: Any = object


class ModelSwitching(_Base):
    """Model and tier pickers, the switch itself, and the tier stored with each chat."""

    placement: Placement | None

    def _busy_reason(self: OllmApp) -> str | None:
        if self.turn is not None:
            return "A reply is streaming: press Esc to stop it first"
        if self.model_busy():  # a compression, an undo
            return self.model_busy_reason()
        if self.load_state == "loading":
            return "A model is loading: wait until it is ready"
        return None

    def action_pick_model(self: OllmApp) -> None:
        """Open the model picker."""
        busy = self._busy_reason()
        if busy:
            self.notify(busy, severity="warning")
            return
        current = str(self.model_path) if self.model_path else None

        def chosen(entry: ModelEntry | None) -> None:
            if entry is not None:
                self.switch_model(entry, None)

        self.push_screen(ModelPicker(self.settings, self.memory_probe, current), chosen)

    def action_pick_tier(self: OllmApp) -> None:
        """Open the tier picker for the loaded model."""
        busy = self._busy_reason()
        if busy:
            self.notify(busy, severity="warning")
            return
        if self.remote_tier_note():  # a server model: the server sets its context
            return
        gguf = self.engine.gguf
        if self.model_path is None or self.placement is None:
            self.notify("No model loaded: pick a model first", severity="warning")
            return
        info = gguf if gguf is not None and gguf.path == self.model_path else None
        try:
            plan = place(
                self.settings.with_(tier=None, context_explicit=False),
                info or self._header(self.model_path),
                self.memory_probe.snapshot(),
                load_all_profiles(self.settings),
            ).plan
        except (TierError, EngineError) as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        current = self.placement.plan.chosen.size

        def chosen(size: int | None) -> None:
            if size is not None and self.model_path is not None:
                if size == current and self.engine.info is not None:
                    self.notify(f"Already at {size_label(size)}")
                    return
                entry = resolve(self.settings, str(self.model_path))
                self.switch_model(entry, size)

        self.push_screen(TierPicker(plan, current, self.model_path.stem), chosen)

    @staticmethod
    def _header(path: Path) -> Any:
        from ollm_tui.core.gguf_info import GGUFError, read_gguf_info

        try:
            return read_gguf_info(path)
        except GGUFError as exc:
            raise EngineError(str(exc)) from None

    def switch_model(self: OllmApp, entry: ModelEntry, size: int | None) -> None:
        """Reload with ``entry`` at ``size`` (None: its auto tier)."""
        self.status_line.model_name = entry.name
        self._set_load_state("loading")
        self._switch(entry, size)

    @work(thread=True, exclusive=True, exit_on_error=False, group="model")
    def _switch(self: OllmApp, entry: ModelEntry, size: int | None) -> ModelInfo:
        if is_remote_entry(entry):
            return self.switch_remote(entry)
        if entry.info is None:  # the Gemma test model: assembled on first use
            entry = resolve(self.settings, entry.name)
        settings = self.settings.with_(tier=None, context_explicit=False)
        placement = place(
            settings,
            entry.info,
            self.memory_probe.snapshot(),
            load_all_profiles(self.settings),
            size,
            save_profile=True,
        )
        self.call_from_thread(self._switch_planned, entry.path, placement)
        return self.engine.load(entry.path, placement.options, self._load_cancel)

    def _switch_planned(self: OllmApp, path: Path, placement: Placement) -> None:
        self.model_path = path
        self.placement = placement
        self.load_options = placement.options
        self.memory_meter.device_label = placement.plan.device.label
        tier = placement.plan.chosen
        text = f"Switched to {path.stem} · context {tier.label} ({placement.n_ctx} tokens)"
        self.store.add_message(self.chat.id, "divider", text, meta={"tier": tier.label})
        self.run_worker(self._show_divider(), group="transcript", exit_on_error=False)

    async def _show_divider(self: OllmApp) -> None:
        chat_id = self.chat.id
        await self.transcript.show(self.store.messages(chat_id), *self.checkpoints_of(chat_id))

    def remember_tier(self: OllmApp, info: ModelInfo | None = None, announce: bool = True) -> None:
        """Show the tier in the status line and store it with the open chat."""
        info = info or self.engine.info
        if self.remote_in_use:  # a server model has no tier: its server sets the context
            self.status_line.tier = "server"
            return
        if self.placement is None or self.session is None or info is None:
            return
        plan = self.placement.plan
        self.status_line.tier = plan.chosen.label
        if not announce:
            pass
        elif self.placement.override_note:
            self.notify(self.placement.override_note, markup=False)
        elif not plan.chosen.fits:
            self.notify(f"Memory: {plan.reason}", severity="warning", timeout=15, markup=False)
        self.store.update_chat_settings(
            self.chat.id,
            tier=plan.chosen.label,
            tier_manual=plan.manual,
            tier_reason=self.placement.override_note or plan.reason,
            n_ctx=info.n_ctx,
            model_path=str(info.path),
        )
