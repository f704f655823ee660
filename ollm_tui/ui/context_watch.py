"""Keeps the context meter true: exact after each turn, estimated while typing and streaming.

The app calls the hooks (``model_loaded``, ``chat_opened``, ``composer_changed``,
``turn_started``, ``turn_ended``); every count runs in a thread worker (group ``tokens``),
so a long chat or a long paste never blocks the UI. The first time a chat's budget is
``Settings.context_warn_percent`` full in this app session, a warning says so.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.css.query import NoMatches

from ollm_tui.core.token_estimate import encoding_loaded
from ollm_tui.session.accounting import Accounting
from ollm_tui.session.chat import ChatSession
from ollm_tui.session.context import Measured
from ollm_tui.session.events import (
    ContextEvent,
    MemoryLevelChanged,
    TierLocked,
    UsageChanged,
)
from ollm_tui.ui.widgets.memory_meter import STICKY_S

if TYPE_CHECKING:
    from textual.timer import Timer

    from ollm_tui.core.hardware import DeviceMemory
    from ollm_tui.ui.app import OllmApp
    from ollm_tui.ui.generation import Turn
    from ollm_tui.ui.widgets.context_meter import ContextMeter

log = logging.getLogger("ollm.tokens")

DEBOUNCE_S = 0.25
"""Typing pause after which the composer's text is estimated."""
STREAM_EVERY_S = 0.25
"""How often the meter takes the streaming reply's token count."""
INLINE_CHARS = 2_000
"""Texts up to this long are estimated on the UI thread (tiktoken: well under 1 ms)."""


class ContextWatch:
    """The app's side of token accounting: workers, timers, the meter and the warning."""

    def __init__(self, app: OllmApp, accounting: Accounting) -> None:
        self.app = app
        self.accounting = accounting
        self.last: Measured | None = None
        """The last exact count of the open chat."""
        self.warned: set[int] = set()
        """Chats already warned about in this session."""
        self.counts = 0
        """Exact counts shown so far (tests wait on it)."""
        self._debounce: Timer | None = None
        self._stream_timer: Timer | None = None
        self._error_shown = False

    @property
    def meter(self) -> ContextMeter:
        """The status line's meter."""
        return self.app.status_line.meter

    def _live_meter(self) -> ContextMeter | None:
        """The meter, or None while the screen is being torn down (timers and worker
        results can arrive after that)."""
        try:
            return self.meter
        except NoMatches:
            return None

    # -- the tokenizer -------------------------------------------------------------------

    def model_loaded(self) -> None:
        """Load the model's tokenizer for counting (in a worker), then count the chat."""
        make = self.app.engine.counting_codec
        info = self.app.engine.info
        source = info.path if info is not None else None
        self.app.run_worker(
            partial(self._attach, make, source),
            thread=True,
            group="tokens-load",
            exclusive=True,
            exit_on_error=False,
            name="load tokenizer",
        )

    def _attach(self, make: object, source: Path | None) -> None:
        try:
            codec = make()  # type: ignore[operator]
            self.accounting.attach(codec, source)
        except Exception as exc:
            log.exception("cannot load the tokenizer for counting")
            self.app.call_from_thread(self._report, f"Token counts are unavailable: {exc}")
            return
        self.app.call_from_thread(self.refresh)

    def _report(self, message: str) -> None:
        if not self._error_shown:
            self._error_shown = True
            self.app.notify(message, severity="warning", markup=False)

    # -- exact counts --------------------------------------------------------------------

    def refresh(self) -> None:
        """Count the open chat exactly (in a worker) and show it."""
        session = self.app.session
        info = self.app.engine.info
        if self.accounting.counter is None or session is None or info is None:
            return
        self.app.run_worker(
            partial(self._measure, session, info.n_ctx),
            thread=True,
            group="tokens",
            exclusive=True,
            exit_on_error=False,
            name="count tokens",
        )

    def _measure(self, session: ChatSession, n_ctx: int) -> None:
        try:
            measured = session.context.measure(session.history())
        except Exception as exc:
            log.exception("token count failed")
            self.app.call_from_thread(self._report, f"Token counting failed: {exc}")
            return
        self.app.call_from_thread(self._show, session.chat.id, measured)

    def context_event(self, event: ContextEvent) -> None:
        """An event of the open chat's context manager, on the UI thread: the meter, the
        status line's tier, or a toast (a change of memory level, a notice)."""
        if isinstance(event, UsageChanged):
            self.usage_changed(event)
        elif isinstance(event, TierLocked):
            session = self.app.session
            if session is not None and event.chat_id == session.chat.id:
                self.app.status_line.tier = event.label
        elif isinstance(event, MemoryLevelChanged):
            change = event.change
            self.app.workspace.notify_doc(  # F1 then opens the guide's page on memory levels
                change.message,
                "memory.md#memory-levels",
                title="Memory",
                severity=change.severity,  # type: ignore[arg-type]
                timeout=STICKY_S if change.sticky else 8,
            )
        else:
            self.app.notify(event.text, severity=event.severity, markup=False)

    def memory_sampled(self, device: DeviceMemory) -> None:
        """A memory sample of the model's device: the open chat's context manager judges
        its level (a change comes back as ``MemoryLevelChanged``); the meter shows it."""
        session = self.app.session
        if session is not None:
            session.context.observe_memory(device)
        else:
            self.app.memory_guard.update(device)
        self.app.memory_meter.show_level()

    def usage_changed(self, event: UsageChanged) -> None:
        """The context manager counted the chat (after a turn, a compression, an undo):
        show its figure; nothing is counted again."""
        session = self.app.session
        if session is None or session.chat.id != event.chat_id:
            return
        measured = session.context.last
        if measured is not None and measured.usage == event.usage:
            self._show(event.chat_id, measured)

    def _show(self, chat_id: int, measured: Measured) -> None:
        session = self.app.session
        meter = self._live_meter()
        if session is None or session.chat.id != chat_id or meter is None:
            return
        self.last = measured
        self.counts += 1
        if self.app.turn is None:
            meter.inflight = 0
        meter.exact = measured.usage
        self._maybe_warn(chat_id, meter)

    def _maybe_warn(self, chat_id: int, meter: ContextMeter) -> None:
        usage = meter.exact
        threshold = self.app.settings.context_warn_percent
        if usage is None or chat_id in self.warned or usage.percent < threshold:
            return
        self.warned.add(chat_id)
        self.app.notify(
            f"This chat uses {usage.percent:.0f}% of its context budget "
            f"({usage.used:,} of {usage.budget.available:,} tokens). When it is full, the "
            "oldest messages are summarised into a checkpoint.",
            title="Context filling up",
            severity="warning",
            markup=False,
            timeout=10,
        )

    def show_stats(self) -> None:
        """Open the token-stats panel (unless it is open)."""
        from ollm_tui.ui.screens.token_stats import TokenStatsScreen, stats_lines

        if isinstance(self.app.screen, TokenStatsScreen):
            return
        lines = stats_lines(self.last, self.accounting.figures())
        self.app.push_screen(TokenStatsScreen(lines))

    # -- hooks ---------------------------------------------------------------------------

    def chat_opened(self) -> None:
        """A chat was opened: forget the old figure and count the new chat."""
        self.last = None
        meter = self._live_meter()
        if meter is not None:
            meter.exact = None
            meter.inflight = 0
        self.refresh()

    def composer_changed(self, text: str) -> None:
        """The composer changed: estimate its text once typing pauses."""
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.app.set_timer(DEBOUNCE_S, partial(self._estimate, text))

    def _estimate(self, text: str) -> None:
        meter = self._live_meter()
        if meter is None:
            return
        if self._inline(text):
            meter.typing = self.accounting.estimate(text)
            return

        def work() -> None:
            tokens = self.accounting.estimate(text)
            self.app.call_from_thread(setattr, meter, "typing", tokens)

        self.app.run_worker(
            work, thread=True, group="tokens-estimate", exclusive=True, exit_on_error=False
        )

    @staticmethod
    def _inline(text: str) -> bool:
        """Whether ``text`` may be estimated on the UI thread: short, and tiktoken already
        loaded (it loads lazily, 0.2 s or more: the first estimate runs in a worker)."""
        return len(text) <= INLINE_CHARS and encoding_loaded()

    def turn_started(self, turn: Turn) -> None:
        """A reply starts streaming: count the sent message and the reply as it grows."""
        text = turn.text or ""
        if self._inline(text):
            sent = self.accounting.estimate(text)
        else:  # the composer's estimate (made in a worker), or a quick guess until it came
            sent = self.meter.typing or len(text) // 4
        self.meter.typing = 0

        def tick() -> None:
            meter = self._live_meter()
            if meter is not None:
                meter.inflight = sent + turn.buffer.appends

        tick()
        if self._stream_timer is not None:
            self._stream_timer.stop()
        self._stream_timer = self.app.set_interval(STREAM_EVERY_S, tick)

    def turn_ended(self, counted: bool = False) -> None:
        """The reply is done (or failed). ``counted``: the session counted the chat after
        it (its ``UsageChanged`` is shown already); else count it here."""
        if self._stream_timer is not None:
            self._stream_timer.stop()
            self._stream_timer = None
        meter = self._live_meter()
        if counted and meter is not None:
            meter.inflight = 0
        if not counted:
            self.refresh()
        try:
            text = self.app.composer.text
        except NoMatches:
            return
        if text:
            self.composer_changed(text)
