"""The headless context manager of one chat: what the engine sees, and how full it is.

``ContextManager`` owns, for one open chat:

- the **locked tier** and its budget (limit - system prompt - checkpoints - reply reserve);
- **usage**, computed once per change and carried on the events (``TurnFinished.usage``,
  ``UsageChanged``), so the meter and the compression check never count it again;
- the **compression** policy, the emergency ladder, checkpoints, snapshots and undo;
- **memory levels** from the guard (one ``MemoryLevelChanged`` per change of level).

It reports plain events (``session/events.py``) to its listener; the app turns them into
Textual messages and notifications, ``ollm -p`` prints them to stderr. It never imports
Textual. Methods that run the engine (compression, warming) block: call them from the
worker that owns the engine. Messages are never changed: compression only changes the
chat's *active context* (which checkpoints, and from which message on the verbatim window).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ollm_tui.core.budget import Budget, Usage, make_budget
from ollm_tui.core.compression import (
    Compressor,
    Policy,
    Summariser,
    split_index,
    tier_of_context,
)
from ollm_tui.core.conversation import ActiveContext, Snapshot, system_text
from ollm_tui.core.memory_guard import LevelChange, MemoryGuard
from ollm_tui.core.tiers import SIZES, TIERS, effective_limit, parse_tier
from ollm_tui.engine.base import (
    Backend,
    CancelToken,
    ChatMessage,
    ContextOverflowError,
    EngineError,
    GenParams,
    Role,
)
from ollm_tui.session.counting import PromptCounts
from ollm_tui.session.events import (
    CompressionEvent,
    CompressionFinished,
    CompressionStarted,
    ContextEvent,
    MemoryLevelChanged,
    TierLocked,
    UsageChanged,
    steps,
)
from ollm_tui.session.ladder import Emergency, run_ladder
from ollm_tui.settings import Settings
from ollm_tui.store.db import Chat, Message, Store

if TYPE_CHECKING:
    from ollm_tui.core.hardware import DeviceMemory
    from ollm_tui.core.tokens import Breakdown

log = logging.getLogger("ollm.context")

CONTEXT_ROLES = {"user", "assistant"}
USABLE_STATUSES = {"complete", "stopped", "interrupted"}
NOTHING_TO_COMPRESS = "nothing to compress yet: the newest messages are always kept verbatim"

Listener = Callable[[ContextEvent], object]


class MessageTooLong(ContextOverflowError):
    """The new message cannot fit in the context window even with no history."""


@dataclass(frozen=True)
class Measured:
    """How full the context is: the usage, and the part-by-part count behind it (None when
    the engine counted, without the cached counter)."""

    usage: Usage
    breakdown: Breakdown | None
    tokens: int
    """Every token of the prompt (system message included)."""
    messages: int
    """Messages in the prompt."""


def message_of(message: Message) -> ChatMessage:
    """A stored user or assistant message as the engine sees it."""
    role: Role = "assistant" if message.role == "assistant" else "user"
    return {"role": role, "content": message.content}


def usable(history: Sequence[Message]) -> list[Message]:
    """The messages that can be sent: user and assistant turns with text."""
    return [
        m
        for m in history
        if m.role in CONTEXT_ROLES and m.status in USABLE_STATUSES and m.content.strip()
    ]


class ContextManager:
    """The context of one chat: budget, usage, compression, snapshots, memory levels."""

    def __init__(
        self,
        store: Store,
        engine: Backend,
        settings: Settings,
        chat: Chat,
        summariser: Summariser,
        counts: PromptCounts,
        listener: Listener | None = None,
        guard: MemoryGuard | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.chat = chat
        self.summariser = summariser
        self.counts = counts
        self.listener = listener
        """Receives every ``ContextEvent`` (None: nobody listens)."""
        self.guard = guard or MemoryGuard()
        self.compressed = False
        """True once a compression ran in this session (``ollm -p`` reports it)."""
        self.last: Measured | None = None
        """The last measurement (after the last turn or change)."""
        self._active: ActiveContext | None = None
        self._budgets: dict[tuple[str, tuple[int, ...], int], Budget] = {}

    def emit(self, event: ContextEvent) -> None:
        """Report ``event`` to the listener."""
        if self.listener is not None:
            self.listener(event)

    # -- the chat's state ------------------------------------------------------------------

    def history(self) -> list[Message]:
        """The chat's stored messages, in order (one read)."""
        return self.store.messages(self.chat.id)

    def active(self) -> ActiveContext:
        """The checkpoints and the kept window the engine sees (read once, then kept until
        this manager changes it)."""
        if self._active is None:
            self._active = self.store.active_context(self.chat.id)
        return self._active

    def set_active(self, checkpoint_ids: Sequence[int], kept_from: int | None) -> None:
        """Store a new active context (and forget the kept one)."""
        self.store.set_active_context(self.chat.id, tuple(checkpoint_ids), kept_from)
        self._active = None

    def changed(self) -> None:
        """The active context changed behind this manager's back (a compressor wrote it)."""
        self._active = None

    # -- what the engine sees ----------------------------------------------------------------

    def window(
        self, history: Sequence[Message], active: ActiveContext | None = None
    ) -> list[Message]:
        """The usable messages sent verbatim under ``active`` (the current one by default)."""
        active = active if active is not None else self.active()
        return [m for m in usable(history) if active.keeps(m.id)]

    def render(
        self,
        history: Sequence[Message],
        active: ActiveContext | None = None,
        pending: str | None = None,
    ) -> list[ChatMessage]:
        """The prompt: one system message (the system prompt, then the checkpoint summaries,
        oldest first), the kept messages, oldest first, and ``pending`` as the new message."""
        active = active if active is not None else self.active()
        out: list[ChatMessage] = []
        system = system_text(self.settings.system_prompt, active.checkpoints)
        if system:
            out.append({"role": "system", "content": system})
        for m in self.window(history, active):
            out.append(message_of(m))
        if pending is not None:
            out.append({"role": "user", "content": pending})
        return out

    # -- the tier and the budget -----------------------------------------------------------

    def lock_tier(
        self, label: str, n_ctx: int, manual: bool, reason: str, model_path: str | None
    ) -> None:
        """Lock the chat's tier for the session: store it with the chat and report it."""
        if label != "server":
            self.store.update_chat_settings(
                self.chat.id,
                tier=label,
                tier_manual=manual,
                tier_reason=reason,
                n_ctx=n_ctx,
                model_path=model_path,
            )
            self.chat = self.store.get_chat(self.chat.id) or self.chat
        self.emit(TierLocked(self.chat.id, label, n_ctx, manual, reason))

    def tier(self) -> int:
        """The chat's tier (1-5): its stored tier, else the one of the loaded window."""
        chat = self.store.get_chat(self.chat.id) or self.chat  # the app may have re-locked it
        label = str(chat.settings.get("tier") or "")
        try:
            size = parse_tier(label) if label else None
        except ValueError:
            size = None
        if size is None:
            info = self.engine.info
            n_ctx = info.n_ctx if info is not None else SIZES[0]
            size = SIZES[tier_of_context(n_ctx, SIZES, effective_limit)]
        return TIERS[size][0]

    def budget(self, active: ActiveContext | None = None) -> Budget:
        """The budget under ``active``: limit - system prompt - checkpoints - reply reserve
        (counted once per system prompt, set of checkpoints and window)."""
        info = self.engine.info
        if info is None:
            raise EngineError("no model is loaded")
        active = active if active is not None else self.active()
        prompt = self.settings.system_prompt
        key = (prompt, active.checkpoint_ids, info.n_ctx)
        budget = self._budgets.get(key)
        if budget is None:
            system = self.counts.system(prompt)
            full = self.counts.system(system_text(prompt, active.checkpoints))
            reserve = self.settings.reply_reserve_tokens
            budget = make_budget(info.n_ctx, system, max(0, full - system), reserve)
            if len(self._budgets) > 16:
                self._budgets.clear()
            self._budgets[key] = budget
        return budget

    def policy(self) -> Policy:
        """Compression numbers for this chat: the settings and the chat's tier."""
        s = self.settings
        counts = s.tier_checkpoints
        tier = self.tier()
        return Policy(
            max_checkpoints=counts[min(tier, len(counts)) - 1] if counts else 0,
            kept_percent=s.kept_percent,
            kept_min_turns=s.kept_min_turns,
            levels=s.summary_levels,
            rolling_tokens=s.rolling_summary_tokens,
            budget_fraction=s.summary_budget_fraction,
            retries=s.summary_retries,
            echo_similarity=s.echo_similarity,
            snapshots_kept=s.snapshots_kept,
            rollover_keep=s.rollover_keep_messages,
        )

    # -- usage -------------------------------------------------------------------------------

    def measure(
        self,
        history: Sequence[Message],
        active: ActiveContext | None = None,
        pending: str | None = None,
    ) -> Measured:
        """Count the prompt of ``history`` (plus ``pending``) once and say how full it is."""
        active = active if active is not None else self.active()
        prompt = self.render(history, active, pending)
        budget = self.budget(active)
        breakdown = self.counts.breakdown(prompt)
        total = breakdown.total if breakdown is not None else self.counts.total(prompt)
        exact = self.counts.exact
        used = max(0, total - budget.system - budget.checkpoints)
        return Measured(Usage(used, budget, exact), breakdown, total, len(prompt))

    def usage(self, pending: str | None = None) -> Usage:
        """How full the budget is now (with ``pending`` as one more user message)."""
        return self.measure(self.history(), pending=pending).usage

    def after_change(
        self, history: Sequence[Message] | None = None, turn: bool = False
    ) -> Measured | None:
        """Measure the chat after a turn or a change of its context, keep the figure and
        report the usage; after a ``turn``, snapshot the context the first time it is
        ``snapshot_percent`` full. None when it cannot be counted (no model)."""
        try:
            measured = self.measure(self.history() if history is None else history)
        except EngineError:
            return None
        self.last = measured
        if turn:
            self._maybe_snapshot(measured.usage)
        self.emit(UsageChanged(self.chat.id, measured.usage))
        return measured

    def _maybe_snapshot(self, usage: Usage) -> None:
        """Snapshot the active context the first time it is ``snapshot_percent`` full."""
        if usage.percent < self.settings.snapshot_percent:
            return
        active = self.active()
        newest = next(iter(self.store.snapshots(self.chat.id)), None)
        if newest is not None and (
            newest.checkpoint_ids == active.checkpoint_ids
            and newest.kept_from_message_id == active.kept_from_message_id
        ):
            return
        pct = f"{self.settings.snapshot_percent:g}% usage"
        self.store.add_snapshot(self.chat.id, pct, self.settings.snapshots_kept)

    # -- compression -----------------------------------------------------------------------

    def compressor(self, active: ActiveContext, cancel: CancelToken) -> Compressor:
        """The compression steps for this chat under ``active``."""
        budget = self.budget(active)
        base = budget.limit - budget.system - budget.reserve
        return Compressor(
            self.chat.id, self.store, self.summariser, self.counts.text, self.policy(), base, cancel
        )

    def _plan(
        self, history: Sequence[Message], active: ActiveContext
    ) -> tuple[list[Message], list[int], int]:
        """The window, its messages' tokens, and where the kept part would start."""
        window = self.window(history, active)
        prompt = self.render(history, active)
        tokens = self.counts.per_message(prompt, len(prompt) - len(window))
        budget = self.budget(active)
        policy = self.policy()
        target = int(policy.kept_percent / 100 * budget.available)
        cut = split_index([m.role for m in window], tokens, target, policy.kept_min_turns)
        return window, tokens, cut

    def needs_compression(self, usage: Usage | None = None) -> bool:
        """True when the budget is at least ``compress_percent`` full (``usage``: the figure
        carried on the last event; None counts now) and there are messages outside the kept
        window to summarise."""
        if self.engine.info is None:
            return False
        if usage is None:
            usage = self.usage()
        if usage.percent < self.settings.compress_percent:
            return False
        return self._plan(self.history(), self.active())[2] > 0

    def compress(self, cancel: CancelToken, reason: str = "manual") -> Iterator[CompressionEvent]:
        """Summarise the messages before the kept window into a checkpoint (now)."""
        history = self.history()
        active = self.active()
        window, tokens, cut = self._plan(history, active)
        before = self.counts.total(self.render(history, active))
        yield CompressionStarted(reason, cut)
        if cut <= 0:
            yield CompressionFinished(None, 0, before, before, 0.0, NOTHING_TO_COMPRESS)
            return
        start = time.perf_counter()
        try:
            compressor = self.compressor(active, cancel)
            outcome = yield from steps(compressor.compress(active, window, tokens, cut))
        except EngineError as exc:
            yield CompressionFinished(
                None, 0, before, before, time.perf_counter() - start, str(exc)
            )
            return
        finally:
            self.changed()
        self.compressed = True
        prompt = self.render(history, outcome.active)
        after = self.counts.total(prompt)
        if self.settings.warm_after_compression and not cancel.cancelled:
            self._warm(prompt, cancel)
        yield CompressionFinished(
            outcome.checkpoint, outcome.messages, before, after, time.perf_counter() - start
        )
        self.after_change(history)

    def _warm(self, prompt: list[ChatMessage], cancel: CancelToken) -> None:
        """Feed the engine the new prompt once (one token of reply, thrown away), so the
        next turn reuses it as a cached prefix instead of evaluating it all then."""
        try:
            for _ in self.engine.stream(prompt, GenParams(temperature=0.0, max_tokens=1), cancel):
                pass
        except EngineError as exc:  # only a lost speed-up: the next turn evaluates it
            log.warning("warming the prompt after a compression failed: %s", exc)

    def prepare(
        self, history: Sequence[Message], pending: str | None, cancel: CancelToken
    ) -> Generator[CompressionEvent, None, list[ChatMessage]]:
        """The prompt for ``pending`` (None: answer the last stored user message again),
        compressing first when it would not fit or would fill the budget past
        ``emergency_percent``; the emergency ladder after that. Returns the prompt.

        Raises ``MessageTooLong`` (before changing anything) when the message cannot fit
        even with no history at all.
        """
        active = self.active()
        prompt = self.render(history, active, pending)
        budget = self.budget(active)
        fits, total = self.fits(prompt, budget)
        used = total - budget.system - budget.checkpoints
        if fits and used <= budget.available * self.settings.emergency_percent / 100:
            return prompt
        self._check_alone(history, pending, budget)
        window, tokens, cut = self._plan(history, active)
        if fits and cut <= 0:  # past 95 % but nothing outside the kept window: just send
            return prompt
        plan = Emergency(history, pending, active, window, tokens, cut, total)
        return (yield from run_ladder(self, plan, cancel))

    def fits(self, prompt: list[ChatMessage], budget: Budget) -> tuple[bool, int]:
        """Whether ``prompt`` plus the reply reserve fits the window, and its tokens."""
        total = self.counts.total(prompt)
        return total + budget.reserve <= budget.limit, total

    def _check_alone(self, history: Sequence[Message], pending: str | None, budget: Budget) -> None:
        """Raise ``MessageTooLong`` when the message does not fit even with no history."""
        alone: list[ChatMessage] = []
        if self.settings.system_prompt:
            alone.append({"role": "system", "content": self.settings.system_prompt})
        if pending is not None:
            alone.append({"role": "user", "content": pending})
        else:
            last = usable(history)[-1:]
            alone += [message_of(m) for m in last]
        need = self.counts.total(alone)
        if need + budget.reserve > budget.limit:
            raise MessageTooLong(
                f"this message needs {need} tokens with the system prompt, but the "
                f"{budget.limit}-token context leaves {budget.limit - budget.reserve} after "
                "the reply reserve"
            )

    # -- undo and snapshots ------------------------------------------------------------------

    def undo_compression(self) -> bool:
        """Restore the snapshot taken before the last compression (False: nothing to undo).

        The snapshot is used up, so undoing again goes one compression further back.
        """
        for snap in self.store.snapshots(self.chat.id):
            if snap.reason.startswith("before "):
                self.restore_snapshot(snap.id)
                self.store.delete_snapshot(snap.id)
                return True
        return False

    def snapshots(self) -> list[Snapshot]:
        """The chat's snapshots, newest first."""
        return self.store.snapshots(self.chat.id)

    def restore_snapshot(self, snapshot_id: int) -> None:
        """Make a snapshot's active context the chat's again (ValueError: not this chat's)."""
        snap = self.store.get_snapshot(snapshot_id)
        if snap is None or snap.chat_id != self.chat.id:
            raise ValueError(f"snapshot {snapshot_id} does not belong to this chat")
        self.set_active(snap.checkpoint_ids, snap.kept_from_message_id)
        self.after_change()

    # -- memory ------------------------------------------------------------------------------

    def observe_memory(self, device: DeviceMemory) -> LevelChange | None:
        """Feed one memory sample of the model's device to the guard; report a change of
        level as ``MemoryLevelChanged`` (None: no change)."""
        change = self.guard.update(device)
        if change is not None:
            self.emit(MemoryLevelChanged(change))
        return change
