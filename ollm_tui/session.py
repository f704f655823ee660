"""One open chat: the store, the engine and the logic of a turn.

Used the same way by the app (from a thread worker) and by ``ollm -p`` (in the foreground):
``send`` and ``regenerate`` are generators of ``TurnEvent`` that run the engine and keep
the store up to date while they go, so a crash mid-reply loses at most a second of text.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ollm_tui.core.budget import Budget, Usage, make_budget
from ollm_tui.core.compression import (
    Compressor,
    Outcome,
    Policy,
    Summariser,
    split_index,
    tier_of_context,
)
from ollm_tui.core.conversation import ActiveContext, Checkpoint, Snapshot, system_text
from ollm_tui.core.tiers import SIZES, TIERS, effective_limit, parse_tier
from ollm_tui.engine.base import (
    Backend,
    CancelToken,
    ChatMessage,
    ContextOverflowError,
    Delta,
    Done,
    EngineError,
    GenParams,
)
from ollm_tui.settings import Settings
from ollm_tui.summariser import EngineSummariser

if TYPE_CHECKING:
    from ollm_tui.accounting import Accounting
    from ollm_tui.core.tokens import TokenCounter
    from ollm_tui.engine.kv_state import ChatKvCache
from ollm_tui.store.db import Chat, Message, Store, StoreUnusable

log = logging.getLogger("ollm.session")

SAVE_EVERY_S = 1.0
"""How often a streaming reply's partial text is written to the database."""

CONTEXT_ROLES = {"user", "assistant"}
USABLE_STATUSES = {"complete", "stopped", "interrupted"}


class MessageTooLong(ContextOverflowError):
    """The new message cannot fit in the context window even with no history."""


@dataclass(frozen=True)
class TurnStarted:
    """The user message (None when regenerating) and the empty reply are stored."""

    user: Message | None
    reply: Message


@dataclass(frozen=True)
class TurnDelta:
    """More reply text."""

    text: str


@dataclass(frozen=True)
class TurnFinished:
    """The reply as stored, the engine's figures (None on error) and the error text."""

    reply: Message
    done: Done | None
    error: str | None = None
    save_error: str | None = None
    """Why the reply could not be stored (disk full, read-only): ``reply`` then holds the
    text shown, and the store has only what was saved before (nothing earlier is lost)."""


@dataclass(frozen=True)
class CompressionStarted:
    """A compression begins: why ("auto", "manual" or "emergency") and how many messages
    it summarises (0 when the emergency ladder works on checkpoints only)."""

    reason: str
    messages: int


@dataclass(frozen=True)
class CompressionStep:
    """One notice while compressing: a ladder step, a retry, a fallback."""

    text: str


@dataclass(frozen=True)
class CompressionFinished:
    """A compression ended: the new checkpoint (None if none was written), the messages it
    covers, the prompt's tokens before and after, the time it took, and any error."""

    checkpoint: Checkpoint | None
    messages: int
    tokens_before: int
    tokens_after: int
    seconds: float
    error: str | None = None


CompressionEvent = CompressionStarted | CompressionStep | CompressionFinished
TurnEvent = (
    TurnStarted | TurnDelta | TurnFinished | CompressionStarted | CompressionStep | CompressionFinished
)


def _steps(gen: Generator[str, None, Outcome]) -> Generator[CompressionStep, None, Outcome]:
    """Turn a compression step's notices into ``CompressionStep`` events; return its outcome."""
    while True:
        try:
            text = next(gen)
        except StopIteration as stop:
            return stop.value
        yield CompressionStep(text)


def title_from(text: str, limit: int = 40) -> str:
    """A chat title from its first message: the first line, cut at a word."""
    line = " ".join(text.strip().split())
    if len(line) <= limit:
        return line or "New chat"
    cut = line[:limit].rsplit(" ", 1)[0]
    return (cut or line[:limit]) + "…"


class ChatSession:
    """Turns for one chat. Methods that run the engine block: call them from a worker."""

    def __init__(
        self,
        store: Store,
        engine: Backend,
        settings: Settings,
        chat: Chat,
        summariser: Summariser | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.chat = chat
        self.accounting: Accounting | None = None
        """Exact, cached counts (set by the app); used when its tokenizer is the loaded
        model's, else the engine counts."""
        self.kv: ChatKvCache | None = None
        """Per-chat KV state files (set by the app and ``ollm -p --chat``): restored before
        a reply when they cover more of the prompt than the live cache, saved after it."""
        self.summariser: Summariser = summariser or EngineSummariser(engine, settings)
        """Writes the checkpoint summaries (the loaded model, or ``summary_model``)."""
        self.compressed = False
        """True once a compression ran in this session (``ollm -p`` reports it)."""

    # -- the prompt ----------------------------------------------------------------------

    def history(self) -> list[Message]:
        """The chat's stored messages, in order."""
        return self.store.messages(self.chat.id)

    def active_context(self) -> ActiveContext:
        """The checkpoints and the kept window the engine sees (as stored)."""
        return self.store.active_context(self.chat.id)

    @staticmethod
    def usable(history: list[Message]) -> list[Message]:
        """The messages that can be sent: user and assistant turns with text."""
        return [
            m
            for m in history
            if m.role in CONTEXT_ROLES and m.status in USABLE_STATUSES and m.content.strip()
        ]

    def window(self, history: list[Message], active: ActiveContext | None = None) -> list[Message]:
        """The usable messages sent verbatim under ``active`` (the stored one by default)."""
        active = active if active is not None else self.active_context()
        return [m for m in self.usable(history) if active.keeps(m.id)]

    def engine_messages(
        self, history: list[Message], active: ActiveContext | None = None
    ) -> list[ChatMessage]:
        """What the engine sees: one system message (the system prompt, then the checkpoint
        summaries, oldest first), then the kept messages, oldest first."""
        active = active if active is not None else self.active_context()
        out: list[ChatMessage] = []
        system = system_text(self.settings.system_prompt, active.checkpoints)
        if system:
            out.append({"role": "system", "content": system})
        for m in self.window(history, active):
            out.append({"role": m.role, "content": m.content})  # type: ignore[typeddict-item]
        return out

    @property
    def counter(self) -> TokenCounter | None:
        """The cached counter, when it counts for the model the engine has loaded."""
        info = self.engine.info
        if self.accounting is None or info is None:
            return None
        return self.accounting.counter_for(info.path)

    def _count(self, messages: list[ChatMessage]) -> int:
        counter = self.counter
        if counter is not None:
            try:
                return counter.total(messages)  # type: ignore[arg-type]
            except Exception:  # e.g. a template refusing the messages: the engine says why
                log.warning("cached count failed; asking the engine", exc_info=True)
        return self.engine.count_prompt_tokens(messages)

    def _system_tokens(self, text: str) -> int:
        """What a system message with ``text`` adds to a prompt (0 for none)."""
        if not text:
            return 0
        counter = self.counter
        if counter is not None:
            try:
                return counter.system_tokens(text)
            except Exception:
                log.warning("cached system count failed; asking the engine", exc_info=True)
        probe: list[ChatMessage] = [{"role": "user", "content": "."}]
        with_system: list[ChatMessage] = [{"role": "system", "content": text}, *probe]
        return max(0, self._count(with_system) - self._count(probe))

    def count_text(self, text: str) -> int:
        """Exact tokens of a text with the loaded model's tokenizer."""
        counter = self.counter
        if counter is not None:
            try:
                return counter.codec.count(text)
            except Exception:
                log.warning("cached text count failed; asking the engine", exc_info=True)
        tokenize = getattr(self.engine, "tokenize", None)
        if tokenize is not None:
            return len(tokenize(text))
        probe: list[ChatMessage] = [{"role": "user", "content": text}]
        empty: list[ChatMessage] = [{"role": "user", "content": ""}]
        return max(0, self.engine.count_prompt_tokens(probe) - self.engine.count_prompt_tokens(empty))

    def _message_tokens(self, prompt: list[ChatMessage], first: int) -> list[int]:
        """Tokens of each message of ``prompt`` from index ``first`` on (with framing)."""
        counter = self.counter
        if counter is not None:
            try:
                breakdown = counter.count(prompt)  # type: ignore[arg-type]
                return [breakdown.message_tokens(i) for i in range(first, len(prompt))]
            except Exception:
                log.warning("cached breakdown failed; asking the engine", exc_info=True)
        return [self.engine.count_prompt_tokens([m]) for m in prompt[first:]]

    def budget(self, active: ActiveContext | None = None) -> Budget:
        """The budget under ``active``: limit - system prompt - checkpoints - reply reserve."""
        info = self.engine.info
        if info is None:
            raise EngineError("no model is loaded")
        active = active if active is not None else self.active_context()
        system = self._system_tokens(self.settings.system_prompt)
        full = self._system_tokens(system_text(self.settings.system_prompt, active.checkpoints))
        return make_budget(info.n_ctx, system, max(0, full - system), self.settings.reply_reserve_tokens)

    def usage(self, extra: str | None = None) -> Usage:
        """How full the budget is now (with ``extra`` as one more user message)."""
        history = self.history()
        active = self.active_context()
        prompt = self.engine_messages(history, active)
        if extra is not None:
            prompt.append({"role": "user", "content": extra})
        budget = self.budget(active)
        return Usage(max(0, self._count(prompt) - budget.system - budget.checkpoints), budget)

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

    def tier(self) -> int:
        """The chat's tier (1-5): its stored tier, else the one of the loaded window."""
        label = str((self.store.get_chat(self.chat.id) or self.chat).settings.get("tier") or "")
        try:
            size = parse_tier(label) if label else None
        except ValueError:
            size = None
        if size is None:
            info = self.engine.info
            n_ctx = info.n_ctx if info is not None else SIZES[0]
            size = SIZES[tier_of_context(n_ctx, SIZES, effective_limit)]
        return TIERS[size][0]

    def _compressor(self, active: ActiveContext, cancel: CancelToken) -> Compressor:
        budget = self.budget(active)
        base = budget.limit - budget.system - budget.reserve
        return Compressor(
            self.chat.id, self.store, self.summariser, self.count_text, self.policy(), base, cancel
        )

    # -- compression ---------------------------------------------------------------------

    def _plan(self, history: list[Message], active: ActiveContext) -> tuple[list[Message], list[int], int]:
        """The window, its messages' tokens, and where the kept part would start."""
        window = self.window(history, active)
        prompt = self.engine_messages(history, active)
        first = len(prompt) - len(window)
        tokens = self._message_tokens(prompt, first)
        budget = self.budget(active)
        policy = self.policy()
        target = int(policy.kept_percent / 100 * budget.available)
        cut = split_index([m.role for m in window], tokens, target, policy.kept_min_turns)
        return window, tokens, cut

    def needs_compression(self) -> bool:
        """True when the budget is at least ``compress_percent`` full and there are
        messages outside the kept window to summarise."""
        if self.engine.info is None:
            return False
        if self.usage().percent < self.settings.compress_percent:
            return False
        history = self.history()
        return self._plan(history, self.active_context())[2] > 0

    def compress(self, cancel: CancelToken, reason: str = "manual") -> Iterator[CompressionEvent]:
        """Summarise the messages before the kept window into a checkpoint (now)."""
        history = self.history()
        active = self.active_context()
        window, tokens, cut = self._plan(history, active)
        before = self._count(self.engine_messages(history, active))
        yield CompressionStarted(reason, cut)
        if cut <= 0:
            yield CompressionFinished(
                None, 0, before, before, 0.0,
                "nothing to compress yet: the newest messages are always kept verbatim",
            )
            return
        start = time.perf_counter()
        try:
            compressor = self._compressor(active, cancel)
            outcome = yield from _steps(compressor.compress(active, window, tokens, cut))
        except EngineError as exc:
            yield CompressionFinished(None, 0, before, before, time.perf_counter() - start, str(exc))
            return
        self.compressed = True
        prompt = self.engine_messages(history, outcome.active)
        after = self._count(prompt)
        if self.settings.warm_after_compression and not cancel.cancelled:
            self._warm(prompt, cancel)
        yield CompressionFinished(
            outcome.checkpoint, outcome.messages, before, after, time.perf_counter() - start
        )

    def _warm(self, prompt: list[ChatMessage], cancel: CancelToken) -> None:
        """Feed the engine the new prompt once (one token of reply, thrown away), so the
        next turn reuses it as a cached prefix instead of evaluating it all then."""
        try:
            for _ in self.engine.stream(prompt, GenParams(temperature=0.0, max_tokens=1), cancel):
                pass
        except EngineError as exc:  # only a lost speed-up: the next turn evaluates it
            log.warning("warming the prompt after a compression failed: %s", exc)

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
        self.store.set_active_context(self.chat.id, snap.checkpoint_ids, snap.kept_from_message_id)

    def _maybe_snapshot(self) -> None:
        """Snapshot the active context the first time it is ``snapshot_percent`` full."""
        try:
            if self.usage().percent < self.settings.snapshot_percent:
                return
        except EngineError:
            return
        active = self.active_context()
        newest = next(iter(self.store.snapshots(self.chat.id)), None)
        if newest is not None and (
            newest.checkpoint_ids == active.checkpoint_ids
            and newest.kept_from_message_id == active.kept_from_message_id
        ):
            return
        pct = f"{self.settings.snapshot_percent:g}% usage"
        self.store.add_snapshot(self.chat.id, pct, self.settings.snapshots_kept)

    def _fits(self, prompt: list[ChatMessage], budget: Budget) -> tuple[bool, int]:
        total = self._count(prompt)
        return total + budget.reserve <= budget.limit, total

    def make_room(
        self, history: list[Message], pending: str | None, cancel: CancelToken
    ) -> Generator[CompressionEvent, None, list[ChatMessage]]:
        """The prompt for ``pending`` (None: answer the last stored user message again),
        compressing first when it would not fit or would fill the budget past
        ``emergency_percent``; the emergency ladder after that. Returns the prompt.

        Raises ``MessageTooLong`` (before changing anything) when the message cannot fit
        even with no history at all.
        """
        extra: list[ChatMessage] = [{"role": "user", "content": pending}] if pending is not None else []
        active = self.active_context()
        prompt = self.engine_messages(history, active) + extra
        budget = self.budget(active)
        fits, total = self._fits(prompt, budget)
        used = total - budget.system - budget.checkpoints
        if fits and used <= budget.available * self.settings.emergency_percent / 100:
            return prompt
        self._check_alone(history, pending, budget)
        window, tokens, cut = self._plan(history, active)
        if fits and cut <= 0:  # past 95 % but nothing outside the kept window: just send
            return prompt
        yield CompressionStarted("emergency", cut)
        start = time.perf_counter()
        compressor = self._compressor(active, cancel)
        first: Checkpoint | None = None
        messages = 0
        keep_last = 0 if pending is not None else 1  # regenerate keeps the question it answers
        after_id = max((m.id for m in history), default=0)
        steps: list[tuple[str, Callable[[ActiveContext], Generator[str, None, Outcome]]]] = [
            ("", lambda a: compressor.compress(a, window, tokens, cut)),
            ("re-summarising the largest checkpoint one level down",
             compressor.shrink_largest),
            ("merging the two oldest checkpoints", compressor.merge_oldest),
            (f"rolling over: one summary and the last {self.settings.rollover_keep_messages} messages",
             lambda a: compressor.rollover(a, self.window(history, a),
                                           self.settings.rollover_keep_messages, after_id)),
            ("rolling over: one summary and the new message only",
             lambda a: compressor.rollover(a, self.window(history, a), keep_last, after_id)),
        ]
        for notice, step in steps:
            if notice:
                yield CompressionStep(notice)
            outcome = yield from _steps(step(active))
            active = outcome.active
            first = first or outcome.checkpoint
            messages += outcome.messages
            prompt = self.engine_messages(history, active) + extra
            fits, after = self._fits(prompt, self.budget(active))
            if fits:
                break
        if not fits:
            yield CompressionStep("leaving the summary out: the message needs the whole window")
            kept = self.window(history, active)[-keep_last:] if keep_last else []
            kept_from = kept[0].id if kept else after_id + 1
            self.store.set_active_context(self.chat.id, (), kept_from)
            active = ActiveContext((), kept_from)
            prompt = self.engine_messages(history, active) + extra
            after = self._count(prompt)
        self.compressed = True
        yield CompressionFinished(first, messages, total, after, time.perf_counter() - start)
        return prompt

    def _check_alone(self, history: list[Message], pending: str | None, budget: Budget) -> None:
        """Raise ``MessageTooLong`` when the message does not fit even with no history."""
        alone: list[ChatMessage] = []
        if self.settings.system_prompt:
            alone.append({"role": "system", "content": self.settings.system_prompt})
        if pending is not None:
            alone.append({"role": "user", "content": pending})
        else:
            last = self.usable(history)[-1:]
            alone += [{"role": m.role, "content": m.content} for m in last]  # type: ignore[misc]
        need = self._count(alone)
        if need + budget.reserve > budget.limit:
            raise MessageTooLong(
                f"this message needs {need} tokens with the system prompt, but the "
                f"{budget.limit}-token context leaves {budget.limit - budget.reserve} after "
                "the reply reserve"
            )

    # -- turns ---------------------------------------------------------------------------

    def params(self) -> GenParams:
        """Sampling parameters from the settings."""
        return GenParams(temperature=self.settings.temperature, max_tokens=self.settings.max_tokens)

    def send(
        self, text: str, cancel: CancelToken, params: GenParams | None = None
    ) -> Iterator[TurnEvent]:
        """Store ``text`` as the user's message and stream the reply.

        Raises ``MessageTooLong`` (before storing anything) when it cannot fit at all.
        """
        history = self.history()
        prompt = yield from self.make_room(history, text, cancel)
        user = self.store.add_message(self.chat.id, "user", text)
        if self.chat.title == "New chat" and not any(m.role == "user" for m in history):
            self.rename(title_from(text))
        yield from self._reply(prompt, user, cancel, params or self.params())
        with contextlib.suppress(StoreUnusable):  # the reply is out; a snapshot is extra
            self._maybe_snapshot()

    def regenerate(self, cancel: CancelToken, params: GenParams | None = None) -> Iterator[TurnEvent]:
        """Replace the last reply with a new one (the old one is deleted).

        The last reply is always in the kept window (compression keeps at least the last
        turns verbatim), so no checkpoint covers what is deleted.
        """
        history = [m for m in self.history() if m.role != "divider"]  # a model/tier switch note
        old_replies = []
        while history and history[-1].role == "assistant":
            old_replies.append(history.pop())
        if not history or history[-1].role != "user":
            raise EngineError("there is no message to answer again")
        prompt = yield from self.make_room(history, None, cancel)  # may raise: nothing deleted yet
        for reply in old_replies:
            self.store.delete_message(reply.id)
        yield from self._reply(prompt, None, cancel, params or self.params())
        with contextlib.suppress(StoreUnusable):  # the reply is out; a snapshot is extra
            self._maybe_snapshot()

    def _reply(
        self,
        prompt: list[ChatMessage],
        user: Message | None,
        cancel: CancelToken,
        params: GenParams,
    ) -> Iterator[TurnEvent]:
        info = self.engine.info
        model = info.name if info else None
        reply = self.store.add_message(
            self.chat.id, "assistant", "", status="streaming", meta={"model": model}
        )
        if model and model != self.chat.model:
            self.store.set_chat_model(self.chat.id, model)
        yield TurnStarted(user, reply)
        if self.kv is not None:
            self.kv.before_turn(self.chat.id, prompt)
        parts: list[str] = []
        last_save = time.monotonic()
        done: Done | None = None
        save_error: str | None = None

        def save(**fields: Any) -> None:
            # a write the disk refuses (full, read-only) must not end the reply: it is
            # remembered, the stream goes on, and the caller is told at the end
            nonlocal save_error
            try:
                self.store.update_message(reply.id, **fields)
            except StoreUnusable as exc:
                save_error = str(exc)

        try:
            for event in self.engine.stream(prompt, params, cancel):
                if isinstance(event, Delta):
                    parts.append(event.text)
                    yield TurnDelta(event.text)
                    now = time.monotonic()
                    if now - last_save >= SAVE_EVERY_S:
                        save(content="".join(parts))
                        last_save = now
                else:
                    done = event
        except EngineError as exc:
            text = "".join(parts)
            save(content=text, status="error", meta={"error": str(exc)})
            shown = self._shown(reply, text, "error", {"error": str(exc)}, save_error)
            yield TurnFinished(shown, None, str(exc), save_error)
            return
        except BaseException:
            # anything unexpected (or the worker being torn down): keep what we have
            with contextlib.suppress(StoreUnusable):
                self.store.update_message(reply.id, content="".join(parts), status="interrupted")
            raise
        text = "".join(parts)
        status = "stopped" if done is not None and done.stopped else "complete"
        meta = {}
        if done is not None:
            meta = {
                "prompt_tokens": done.prompt_tokens,
                "completion_tokens": done.completion_tokens,
                "ttft_s": round(done.ttft_s, 4),
                "tokens_per_s": round(done.tokens_per_s, 2),
                "finish_reason": done.finish_reason,
            }
        save_error = None  # the last save decides: an earlier failure is healed by it
        save(content=text, status=status, meta=meta)
        yield TurnFinished(self._shown(reply, text, status, meta, save_error), done, None, save_error)
        if self.kv is not None and save_error is None:  # after the reply is shown
            self.kv.after_turn(self.chat.id)

    def _shown(
        self, reply: Message, text: str, status: str, meta: dict[str, Any], save_error: str | None
    ) -> Message:
        """The reply as stored, or (when it could not be stored) as it was generated."""
        if save_error is None:
            return self._get(reply.id)
        return replace(reply, content=text, status=status, meta={**reply.meta, **meta})  # type: ignore[arg-type]

    def _get(self, message_id: int) -> Message:
        msg = self.store.get_message(message_id)
        assert msg is not None
        return msg

    # -- chat housekeeping ---------------------------------------------------------------

    def rename(self, title: str) -> None:
        """Rename the chat."""
        self.store.rename_chat(self.chat.id, title)
        self.chat = self.store.get_chat(self.chat.id) or self.chat
