"""Loading, switching model or context tier in the running app, and the tier of each chat.

``ModelSwitcher`` is the app's collaborator for the model in use: it owns the model's
path, its tier plan and load options, runs the load and switch workers (group ``model``),
and opens the model and tier pickers. The tier is picked once when the app starts
(``--tier`` or auto) and is locked for the session: memory pressure later only warns. It
changes only when the user switches model or tier from a picker (keys or the command
palette), which reloads the model, leaves a divider in the transcript, and stores the new
tier in the chat's settings. Server models are in ``ui/remote.py``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ollm_tui.core.tiers import TierError, size_label
from ollm_tui.engine.base import CancelToken, EngineError, ModelInfo
from ollm_tui.engine.factory import load_options as default_load_options
from ollm_tui.engine.planning import Placement, load_all_profiles, place
from ollm_tui.engine.registry import ModelEntry, resolve
from ollm_tui.engine.remote.models import is_remote_entry
from ollm_tui.settings.servers import model_label
from ollm_tui.ui.generation import describe
from ollm_tui.ui.remote import RemoteModels
from ollm_tui.ui.screens.pickers import ModelPicker, TierPicker

if TYPE_CHECKING:
    from ollm_tui.engine.base import Backend
    from ollm_tui.session.components import Components, Startup
    from ollm_tui.settings import Settings
    from ollm_tui.ui.app import OllmApp

MODEL_GROUP = "model"
"""The worker group of loads and switches (one at a time: exclusive)."""


class ModelSwitcher:
    """Model and tier pickers, loading and switching, and the tier stored with each chat."""

    def __init__(self, app: OllmApp, components: Components, startup: Startup) -> None:
        self.app = app
        self.memory_probe = components.probe
        self.jobs = app.jobs
        self.model_path: Path | None = startup.model_path
        """The model in use, or loading."""
        self.placement: Placement | None = startup.placement
        """The tier plan the model was (or is being) loaded with; None when unknown."""
        self.load_options = startup.load_options or default_load_options(app.settings)
        self.startup_error = startup.error
        self.load_cancel = CancelToken()
        self.remote = RemoteModels(self)

    @property
    def settings(self) -> Settings:
        """The app's settings (the settings form may change them)."""
        return self.app.settings

    @property
    def engine(self) -> Backend:
        """The app's engine."""
        return self.app.engine

    # -- loading -------------------------------------------------------------------------

    def _set_load_state(self, state: str, error: str | None = None) -> None:
        jobs = self.jobs
        if state == "loading":
            jobs.loading()
        elif state == "ready":
            jobs.loaded()
        elif state == "failed":
            jobs.load_failed(error or "")
        else:
            jobs.no_model(error)
        self.app.status_line.load_state = jobs.load_state

    def start(self) -> None:
        """Load the startup model after the first frame (or say why there is none)."""
        app = self.app
        if self.startup_error:
            self._set_load_state("none", self.startup_error)
            app.notify(self.startup_error, severity="error", timeout=10, markup=False)
            return
        if self.model_path is None:
            self._set_load_state("none")
            app.workspace.notify_doc(
                "No model found. Put a .gguf file in "
                f"{self.settings.user_models_dir} or start with --model PATH.",
                "models.md#where-ollm-looks",
                severity="error",
            )
            return
        app.status_line.model_name = model_label(self.model_path)
        self._set_load_state("loading")
        # after the first frame: importing llama-cpp-python in the worker holds the GIL
        app.call_after_refresh(self._run_load, self.model_path)

    def _run_load(self, path: Path) -> None:
        load = partial(self.engine.load, path, self.load_options, self.load_cancel)
        self._run_model_worker(load, "load")

    def _run_model_worker(self, job: Any, name: str) -> None:
        self.app.run_worker(
            job, thread=True, exclusive=True, exit_on_error=False, group=MODEL_GROUP, name=name
        )

    def loaded(self, info: ModelInfo) -> None:
        """The load or switch worker finished: show the model and its tier."""
        app = self.app
        app.status_line.model_name = info.name
        app.status_line.n_ctx = info.n_ctx
        self._set_load_state("ready")
        self.remember_tier(info)
        app.context.model_loaded()
        if info.format_note:
            app.notify(info.format_note, severity="warning", timeout=10, markup=False)
        app.queue.drain()

    def failed(self, error: BaseException | None) -> None:
        """The load or switch worker failed: say why (and offer the local model)."""
        reason = (str(error) or describe(error)) if error is not None else "unknown error"
        self._set_load_state("failed", reason)
        name = model_label(self.model_path) if self.model_path else "the model"
        self.app.workspace.notify_doc(
            f"Could not load {name}: {reason}",
            "troubleshooting.md#a-model-that-will-not-load",
            severity="error",
            timeout=15,
        )
        if self.remote.in_use:  # a server that is down: offer the local model
            self.remote.offer_local("cannot be used now (see the error)")

    def _busy_reason(self) -> str | None:
        refusal = self.jobs.refusal("switch")
        return refusal.reason if refusal is not None else None

    # -- pickers -------------------------------------------------------------------------

    def pick_model(self) -> None:
        """Open the model picker."""
        busy = self._busy_reason()
        if busy:
            self.app.notify(busy, severity="warning")
            return
        current = str(self.model_path) if self.model_path else None

        def chosen(entry: ModelEntry | None) -> None:
            if entry is not None:
                self.switch_model(entry, None)

        self.app.push_screen(ModelPicker(self.settings, self.memory_probe, current), chosen)

    def pick_tier(self) -> None:
        """Open the tier picker for the loaded model."""
        busy = self._busy_reason()
        if busy:
            self.app.notify(busy, severity="warning")
            return
        if self.remote.tier_note():  # a server model: the server sets its context
            return
        gguf = self.engine.gguf
        if self.model_path is None or self.placement is None:
            self.app.notify("No model loaded: pick a model first", severity="warning")
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
            self.app.notify(str(exc), severity="error", markup=False)
            return
        current = self.placement.plan.chosen.size

        def chosen(size: int | None) -> None:
            if size is not None and self.model_path is not None:
                if size == current and self.engine.info is not None:
                    self.app.notify(f"Already at {size_label(size)}")
                    return
                entry = resolve(self.settings, str(self.model_path))
                self.switch_model(entry, size)

        self.app.push_screen(TierPicker(plan, current, self.model_path.stem), chosen)

    @staticmethod
    def _header(path: Path) -> Any:
        from ollm_tui.core.gguf_info import GGUFError, read_gguf_info

        try:
            return read_gguf_info(path)
        except GGUFError as exc:
            raise EngineError(str(exc)) from None

    # -- switching -----------------------------------------------------------------------

    def switch_model(self, entry: ModelEntry, size: int | None) -> None:
        """Reload with ``entry`` at ``size`` (None: its auto tier)."""
        self.app.status_line.model_name = entry.name
        self._set_load_state("loading")
        self._run_model_worker(partial(self._switch, entry, size), "switch")

    def _switch(self, entry: ModelEntry, size: int | None) -> ModelInfo:
        """The switch (model worker thread)."""
        if is_remote_entry(entry):
            return self.remote.switch(entry)
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
        self.app.call_from_thread(self._switch_planned, entry.path, placement)
        return self.engine.load(entry.path, placement.options, self.load_cancel)

    def _switch_planned(self, path: Path, placement: Placement) -> None:
        self.model_path = path
        self.placement = placement
        self.load_options = placement.options
        self.app.memory_meter.device_label = placement.plan.device.label
        tier = placement.plan.chosen
        text = f"Switched to {path.stem} · context {tier.label} ({placement.n_ctx} tokens)"
        self.app.chat_screen.add_divider(text, {"tier": tier.label})

    def remember_tier(self, info: ModelInfo | None = None, announce: bool = True) -> None:
        """Show the tier in the status line and store it with the open chat."""
        app = self.app
        info = info or self.engine.info
        if self.remote.in_use:  # a server model has no tier: its server sets the context
            app.status_line.tier = "server"
            return
        if self.placement is None or app.session is None or info is None:
            return
        plan = self.placement.plan
        app.status_line.tier = plan.chosen.label
        if not announce:
            pass
        elif self.placement.override_note:
            app.notify(self.placement.override_note, markup=False)
        elif not plan.chosen.fits:
            app.notify(f"Memory: {plan.reason}", severity="warning", timeout=15, markup=False)
        app.session.context.lock_tier(  # stored with the chat, reported as TierLocked
            plan.chosen.label,
            info.n_ctx,
            plan.manual,
            self.placement.override_note or plan.reason,
            str(info.path),
        )
