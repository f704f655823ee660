"""Compression into checkpoints: the kept window, levels, aging, merging, the ladder.

Pure logic over three injected things: a ``Summariser`` (the model; scripted in tests), a
``Ledger`` that writes checkpoints and snapshots (``store.db.Store``), and a text counter
(exact tokens with the loaded model's tokenizer). The steps are generators: they yield a
line of text per notable step (retries, fallbacks, ladder steps) and return their
``Outcome``; ``ChatSession`` turns the lines into ``CompressionStep`` events.

Rules (CONTEXT-SPEC, "Compression into checkpoints"), every number from ``Policy``:

- The kept window: the newest messages up to ``kept_percent`` of the budget, at least the
  last ``kept_min_turns`` turns, cut only before a user message.
- A new checkpoint is L3. Each later compression ages every older checkpoint one level
  (L3 -> L2 -> L1; text longer than the lower level's cap is summarised again, else it
  is kept). Past the tier's checkpoint count the two oldest merge into one at the lower of
  their levels (two L1s give an L1). Tier 1 keeps one rolling summary instead: the old
  summary and the newly dropped messages are summarised together.
- Level caps are the spec's upper bounds, scaled down on small windows to
  ``summary_budget_fraction`` of the budget (at 2K an L3 of 500 tokens would not fit).
- A summary must be non-empty, shorter than its input, not an echo of the instruction
  and not a replay of the transcript ("User: ..." lines: small models copy the start of
  the conversation, changing its numbers); one retry with other wording, then an
  extractive fallback. Names,
  numbers, paths and identifiers from user messages missing from a model summary are
  appended ("Key facts: ...") within the cap.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ollm_tui.core.conversation import ActiveContext, Checkpoint, Snapshot
from ollm_tui.core.summaries import (
    CountText,
    StoredMessage,
    extractive,
    instruction,
    key_facts,
    problem_with,
    transcript,
    truncate_to,
    with_key_facts,
)

Steps = Generator[str, None, "Outcome"]
"""A compression step: yields notices, returns its outcome."""

MIN_CAP = 16
"""No summary cap goes below this many tokens, however small the window."""


class Cancel(Protocol):
    """Anything with a ``cancelled`` flag (``engine.base.CancelToken``)."""

    @property
    def cancelled(self) -> bool:
        """True once the user asked to stop."""
        ...


class Summariser(Protocol):
    """Writes a summary of ``text`` following ``instruction`` in at most ``max_tokens``."""

    def summarise(self, instruction: str, text: str, max_tokens: int, cancel: Cancel) -> str:
        """The summary text (may be bad: the caller validates it). Raises on engine errors."""
        ...


class Ledger(Protocol):
    """Where checkpoints, snapshots and the active context are kept (``store.db.Store``)."""

    def add_checkpoint(
        self,
        chat_id: int,
        level: int,
        summary: str,
        tokens: int,
        first_message_id: int,
        last_message_id: int,
        message_count: int,
        fallback: bool = False,
    ) -> Checkpoint:
        """Write a checkpoint (not active until ``set_active_context`` names it)."""
        ...

    def set_active_context(
        self, chat_id: int, checkpoint_ids: tuple[int, ...] | list[int], kept_from: int | None
    ) -> None:
        """Make these checkpoints (oldest first) and ``kept_from`` the chat's context."""
        ...

    def add_snapshot(self, chat_id: int, reason: str, keep: int = 5) -> Snapshot:
        """Save the chat's active context; keep only the newest ``keep`` snapshots."""
        ...


@dataclass(frozen=True)
class Policy:
    """The numbers of compression for one chat (from ``Settings`` and the chat's tier)."""

    max_checkpoints: int = 3
    """The tier's checkpoint count; 0 = one rolling summary (tier 1)."""
    kept_percent: float = 50.0
    kept_min_turns: int = 2
    levels: tuple[tuple[int, int], ...] = ((50, 100), (150, 300), (300, 500))
    """Token ranges of L1, L2, L3."""
    rolling_tokens: int = 200
    budget_fraction: float = 0.15
    retries: int = 1
    echo_similarity: float = 0.6
    snapshots_kept: int = 5
    rollover_keep: int = 4

    @property
    def rolling(self) -> bool:
        """True for tier 1: one rolling summary instead of checkpoints."""
        return self.max_checkpoints <= 0

    def cap(self, level: int, budget: int) -> int:
        """The most tokens a summary of ``level`` may take when the budget is ``budget``."""
        upper = self.rolling_tokens if level == 0 else self.levels[max(1, min(level, 3)) - 1][1]
        return max(MIN_CAP, min(upper, int(self.budget_fraction * budget)))

    def floor(self, level: int) -> int:
        """The lower bound of ``level``'s range (guidance for the model only)."""
        return 0 if level == 0 else self.levels[max(1, min(level, 3)) - 1][0]


def tier_of_context(n_ctx: int, sizes: Sequence[int], limit_of: Callable[[int], int]) -> int:
    """The index (0-based) of the largest size whose effective limit fits in ``n_ctx``."""
    best = 0
    for i, size in enumerate(sizes):
        if limit_of(size) <= n_ctx:
            best = i
    return best


@dataclass(frozen=True)
class Outcome:
    """What a compression step did."""

    active: ActiveContext
    """The active context after it."""
    checkpoint: Checkpoint | None = None
    """The checkpoint it wrote for newly summarised messages, if any."""
    messages: int = 0
    """Messages newly summarised."""


# -- the kept window --------------------------------------------------------------------


def split_index(roles: Sequence[str], tokens: Sequence[int], target: int, min_turns: int) -> int:
    """Where the kept window starts in a window of messages (0: nothing to summarise).

    The kept part is the newest messages up to ``target`` tokens, but at least the last
    ``min_turns`` turns; it starts at a user message, so a reply never loses its question.
    """
    starts = [i for i, role in enumerate(roles) if role == "user"]
    if not starts:
        return 0
    required = starts[-min_turns] if len(starts) >= min_turns else starts[0]
    best = required
    total = sum(tokens[required:])
    for i in reversed(range(required)):
        total += tokens[i]
        if total > target:
            break
        if roles[i] == "user":
            best = i
    return best


class Compressor:
    """Compression steps for one chat. Not thread-safe: one worker runs it."""

    def __init__(
        self,
        chat_id: int,
        ledger: Ledger,
        summariser: Summariser,
        count: CountText,
        policy: Policy,
        budget: int,
        cancel: Cancel,
    ) -> None:
        self.chat_id = chat_id
        self.ledger = ledger
        self.summariser = summariser
        self.count = count
        self.policy = policy
        self.budget = budget
        """The budget without checkpoints (limit - system - reserve): caps scale with it."""
        self.cancel = cancel

    # -- summaries -------------------------------------------------------------------

    def summarise(
        self, text: str, level: int, kind: str, user_texts: Sequence[str], earlier: str = ""
    ) -> Generator[str, None, tuple[str, bool]]:
        """A validated summary of ``text`` at ``level``: (text, written by the fallback).
        ``earlier`` is an older summary rolled into this one (for the fallback)."""
        cap = self.policy.cap(level, self.budget)
        source_tokens = self.count(text)
        facts = key_facts(user_texts)
        for attempt in range(1 + max(0, self.policy.retries)):
            if self.cancel.cancelled:
                break
            words = instruction(cap, self.policy.floor(level), kind, retry=attempt > 0)
            try:
                raw = self.summariser.summarise(words, text, cap, self.cancel)
            except Exception as exc:  # noqa: BLE001 - an engine error falls back, never crashes
                yield f"the summariser failed ({exc})"
                break
            reason = problem_with(
                raw, source_tokens, words, self.count, self.policy.echo_similarity
            )
            if reason is None:
                summary = truncate_to(raw.strip(), cap, self.count)
                return with_key_facts(summary, facts, cap, self.count), False
            yield f"{reason}; " + (
                "trying again" if attempt < self.policy.retries else "using an extractive summary"
            )
        return extractive(user_texts, text, cap, self.count, earlier), True

    def _write(
        self, level: int, summary: str, first: int, last: int, count: int, fallback: bool
    ) -> Checkpoint:
        return self.ledger.add_checkpoint(
            self.chat_id, level, summary, self.count(summary), first, last, count, fallback
        )

    def age(self, cp: Checkpoint, level: int) -> Generator[str, None, Checkpoint]:
        """``cp`` at the lower ``level``: the same text when it fits the cap, else summarised."""
        cap = self.policy.cap(level, self.budget)
        if cp.tokens <= cap:
            if level == cp.level:
                return cp
            return self._write(
                level,
                cp.summary,
                cp.first_message_id,
                cp.last_message_id,
                cp.message_count,
                cp.fallback,
            )
        text, fallback = yield from self.summarise(cp.summary, level, "summary", [cp.summary])
        if fallback:  # an older summary has no user messages: keep its beginning and its facts
            text = with_key_facts(
                truncate_to(cp.summary, cap * 2 // 3, self.count),
                key_facts([cp.summary]),
                cap,
                self.count,
            )
        return self._write(
            level,
            text,
            cp.first_message_id,
            cp.last_message_id,
            cp.message_count,
            fallback or cp.fallback,
        )

    def merge(self, a: Checkpoint, b: Checkpoint) -> Generator[str, None, Checkpoint]:
        """One checkpoint for ``a`` and ``b`` (adjacent, ``a`` older) at the lower level."""
        level = max(1, min(a.level, b.level))
        cap = self.policy.cap(level, self.budget)
        joined = f"{a.summary.strip()}\n{b.summary.strip()}"
        fallback = a.fallback or b.fallback
        if self.count(joined) > cap:
            joined, fb = yield from self.summarise(joined, level, "summaries", [joined])
            if fb:
                half = max(1, cap // 2 - 1)
                joined = "\n".join(
                    (
                        truncate_to(a.summary.strip(), half, self.count),
                        truncate_to(b.summary.strip(), half, self.count),
                    )
                )
                joined = truncate_to(joined, cap, self.count)
            fallback = fallback or fb
        return self._write(
            level,
            joined,
            a.first_message_id,
            b.last_message_id,
            a.message_count + b.message_count,
            fallback,
        )

    # -- compressions ----------------------------------------------------------------

    def compress(
        self,
        active: ActiveContext,
        window: Sequence[StoredMessage],
        tokens: Sequence[int],
        cut: int | None = None,
    ) -> Steps:
        """Summarise the window's older messages into a new checkpoint (or the rolling
        summary), age and merge the older ones, and make that the active context.

        ``cut`` is where the kept part starts (``split_index``), when the caller has
        worked it out with exact budget figures; else it is computed here.
        """
        if cut is None:
            target = int(self.policy.kept_percent / 100 * self.budget_available(active))
            cut = split_index([m.role for m in window], tokens, target, self.policy.kept_min_turns)
        if cut <= 0:
            return Outcome(active)
        self.ledger.add_snapshot(self.chat_id, "before compression", self.policy.snapshots_kept)
        part = window[:cut]
        users = [m.content for m in part if m.role == "user"]
        text = transcript(part)
        if self.policy.rolling:
            previous = active.checkpoints
            joined = "\n".join(c.summary for c in previous)
            if joined:
                text = f"Earlier summary: {joined}\n\n{text}"
            summary, fb = yield from self.summarise(text, 0, "conversation", users, joined)
            first = previous[0].first_message_id if previous else part[0].id
            count = sum(c.message_count for c in previous) + len(part)
            new = self._write(0, summary, first, part[-1].id, count, fb)
            checkpoints = [new]
        else:
            aged = []
            for cp in active.checkpoints:
                aged.append((yield from self.age(cp, max(1, cp.level - 1))))
            summary, fb = yield from self.summarise(text, 3, "conversation", users)
            new = self._write(3, summary, part[0].id, part[-1].id, len(part), fb)
            checkpoints = [*aged, new]
            while len(checkpoints) > self.policy.max_checkpoints and len(checkpoints) >= 2:
                merged = yield from self.merge(checkpoints[0], checkpoints[1])
                checkpoints = [merged, *checkpoints[2:]]
        result = ActiveContext(tuple(checkpoints), window[cut].id)
        self.ledger.set_active_context(
            self.chat_id, result.checkpoint_ids, result.kept_from_message_id
        )
        return Outcome(result, new, len(part))

    def budget_available(self, active: ActiveContext) -> int:
        """The budget left once the active checkpoints are counted (a close estimate: the
        checkpoints' own tokens, without the few of the block's framing)."""
        return max(0, self.budget - sum(c.tokens for c in active.checkpoints))

    def shrink_largest(self, active: ActiveContext) -> Steps:
        """Ladder step 1: the largest checkpoint one level down (L1: to half its size)."""
        if not active.checkpoints:
            return Outcome(active)
        largest = max(active.checkpoints, key=lambda c: c.tokens)
        if largest.level > 1:
            smaller = yield from self.age(largest, largest.level - 1)
        else:
            cap = max(MIN_CAP, largest.tokens // 2)
            text = truncate_to(largest.summary, cap, self.count)
            smaller = self._write(
                largest.level,
                text,
                largest.first_message_id,
                largest.last_message_id,
                largest.message_count,
                True,
            )
        cps = tuple(smaller if c.id == largest.id else c for c in active.checkpoints)
        result = ActiveContext(cps, active.kept_from_message_id)
        self.ledger.set_active_context(
            self.chat_id, result.checkpoint_ids, result.kept_from_message_id
        )
        return Outcome(result)

    def merge_oldest(self, active: ActiveContext) -> Steps:
        """Ladder step 2: merge the two oldest checkpoints."""
        if len(active.checkpoints) < 2:
            return Outcome(active)
        merged = yield from self.merge(active.checkpoints[0], active.checkpoints[1])
        result = ActiveContext((merged, *active.checkpoints[2:]), active.kept_from_message_id)
        self.ledger.set_active_context(
            self.chat_id, result.checkpoint_ids, result.kept_from_message_id
        )
        return Outcome(result)

    def rollover(
        self, active: ActiveContext, window: Sequence[StoredMessage], keep: int, after_id: int
    ) -> Steps:
        """Ladder step 3: one summary of everything but the last ``keep`` messages (the
        kept part starts at a user message); ``after_id`` is the chat's newest message id,
        so ``keep=0`` sends no stored message verbatim."""
        self.ledger.add_snapshot(self.chat_id, "before rollover", self.policy.snapshots_kept)
        start = len(window)
        for i in range(max(0, len(window) - keep), len(window)):
            if window[i].role == "user":
                start = i
                break
        part = window[:start]
        level = 0 if self.policy.rolling else 1
        users = [m.content for m in part if m.role == "user"]
        earlier = "\n".join(c.summary for c in active.checkpoints)
        text = transcript(part)
        if earlier:
            text = f"Earlier summary: {earlier}\n\n{text}" if text else earlier
        new: Checkpoint | None = None
        if text.strip():
            summary, fb = yield from self.summarise(text, level, "conversation", users, earlier)
            first = active.checkpoints[0].first_message_id if active.checkpoints else part[0].id
            last = part[-1].id if part else active.checkpoints[-1].last_message_id
            count = sum(c.message_count for c in active.checkpoints) + len(part)
            new = self._write(level, summary, first, last, count, fb)
        kept_from = window[start].id if start < len(window) else after_id + 1
        result = ActiveContext((new,) if new else (), kept_from)
        self.ledger.set_active_context(self.chat_id, result.checkpoint_ids, kept_from)
        return Outcome(result, new, len(part))
