"""The one-row status line: model, load state, the last reply's speed, and what is going on."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label

from ollm_tui.ui.safe_text import safe
from ollm_tui.ui.widgets.context_meter import ContextMeter

if TYPE_CHECKING:
    from textual.timer import Timer

LoadState = Literal["loading", "ready", "failed", "none"]

LOAD_STATE_TEXT: dict[str, str] = {
    "loading": "loading…",
    "ready": "ready",
    "failed": "load failed",
    "none": "no model",
}
"""What the status line says for each load state."""


COMPRESS_TICK_S = 1.0
"""How often the status line's "compressing…" figure counts the seconds."""


def compressing_text(messages: int, seconds: float) -> str:
    """The activity while a compression runs, e.g. ``"compressing… 24 messages · 3 s"``."""
    noun = "message" if messages == 1 else "messages"
    text = f"compressing… {messages} {noun}"
    return f"{text} · {seconds:.0f} s" if seconds >= 1 else text


def perf_text(tokens_per_s: float | None, ttft_s: float | None) -> str:
    """The last reply's figures, e.g. ``"42.1 tok/s · first token 0.21 s"``."""
    parts = []
    if tokens_per_s is not None:
        parts.append(f"{tokens_per_s:.1f} tok/s")
    if ttft_s is not None:
        parts.append(f"first token {ttft_s:.2f} s")
    return " · ".join(parts)


class StatusLine(Horizontal):
    """Model name, load state, context size, last reply's tok/s and time to first token."""

    model_name: reactive[str] = reactive("")
    """The model's name (the file name while it loads)."""
    load_state: reactive[LoadState] = reactive[LoadState]("none")
    """loading, ready, failed or none; toggles a CSS class of the same name."""
    n_ctx: reactive[int] = reactive(0)
    """The loaded context window in tokens (0: unknown)."""
    activity: reactive[str] = reactive("")
    """What is going on now ("generating…", "stopping…"), or "" when idle."""
    perf: reactive[str] = reactive("")
    """The last reply's figures (see ``perf_text``)."""
    tier: reactive[str] = reactive("")
    """The context tier in use (e.g. ``"4K"``), shown before the context size."""

    def __init__(self, memory_meter: Widget | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._ready_to_draw = False
        self._compress_timer: Timer | None = None
        self.memory_meter = memory_meter
        """The memory meter (``ui.memory_meter``), docked at the right end."""

    def compose(self) -> ComposeResult:
        yield Label(id="status-model", markup=False)
        yield Label(id="status-load", markup=False)
        yield Label(id="status-ctx", markup=False)
        yield ContextMeter(id="status-meter")
        yield Label(id="status-activity", markup=False)
        yield Label(id="status-perf", markup=False)
        if self.memory_meter is not None:
            yield self.memory_meter

    def on_mount(self) -> None:
        self._ready_to_draw = True
        self._refresh_all()

    @property
    def text(self) -> str:
        """Everything the line says, as plain text (tests and screen readers)."""
        parts = [
            self.model_name,
            LOAD_STATE_TEXT[self.load_state],
            self._ctx_text(),
            self.meter.text if self._ready_to_draw else "",
            self.activity,
            self.perf,
        ]
        return " │ ".join(p for p in parts if p)

    @property
    def meter(self) -> ContextMeter:
        """The context meter (see ``ui/context_meter.py``)."""
        return self.query_one("#status-meter", ContextMeter)

    def show_done(self, tokens_per_s: float | None, ttft_s: float | None) -> None:
        """Show a finished reply's figures and clear the activity."""
        self.perf = perf_text(tokens_per_s, ttft_s)
        self.activity = ""

    def show_compressing(self, messages: int) -> None:
        """Say that ``messages`` are being compressed, with the seconds it takes so far."""
        started = time.monotonic()

        def tick() -> None:
            self.activity = compressing_text(messages, time.monotonic() - started)

        self.end_compressing(None)
        tick()
        self._compress_timer = self.set_interval(COMPRESS_TICK_S, tick)

    def end_compressing(self, activity: str | None = "") -> None:
        """Stop counting the compression's seconds; show ``activity`` (None: leave it)."""
        if self._compress_timer is not None:
            self._compress_timer.stop()
            self._compress_timer = None
        if activity is not None:
            self.activity = activity

    def watch_model_name(self) -> None:
        self._refresh_all()

    def watch_load_state(self, state: LoadState) -> None:
        for name in LOAD_STATE_TEXT:
            self.set_class(state == name, f"-{name}")
        self._refresh_all()

    def watch_n_ctx(self) -> None:
        self._refresh_all()

    def watch_tier(self) -> None:
        self._refresh_all()

    def _ctx_text(self) -> str:
        if not self.n_ctx:
            return ""
        return f"{self.tier} · ctx {self.n_ctx}" if self.tier else f"ctx {self.n_ctx}"

    def watch_activity(self, activity: str) -> None:
        self.set_class(bool(activity), "-busy")
        self.set_class(activity.startswith("compressing"), "-compressing")
        self._refresh_all()

    def watch_perf(self) -> None:
        self._refresh_all()

    def _refresh_all(self) -> None:
        if not self._ready_to_draw:
            return
        model = self.query_one("#status-model", Label)
        model.update(safe(self.model_name))
        model.display = bool(self.model_name)
        self.query_one("#status-load", Label).update(safe(LOAD_STATE_TEXT[self.load_state]))
        ctx = self.query_one("#status-ctx", Label)
        ctx.update(safe(self._ctx_text()))
        ctx.display = bool(self.n_ctx)
        activity = self.query_one("#status-activity", Label)
        activity.update(safe(self.activity))
        activity.display = bool(self.activity)
        perf = self.query_one("#status-perf", Label)
        perf.update(safe(self.perf))
        perf.display = bool(self.perf)
