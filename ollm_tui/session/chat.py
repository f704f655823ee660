"""One open chat: the turn loop on top of the chat's context manager.

Used the same way by the app (from a thread worker) and by ``ollm -p`` (in the foreground):
``send`` and ``regenerate`` are generators of ``TurnEvent`` that run the engine and keep
the store up to date while they go, so a crash mid-reply loses at most a second of text.
What the engine sees, how full it is and compression belong to the ``ContextManager``
(``session/context.py``); a turn asks it for the prompt (``prepare``) before the reply and
for the usage once after it, which ``TurnFinished`` carries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ollm_tui.core.budget import Budget, Usage
from ollm_tui.core.compression import Policy, Summariser
from ollm_tui.core.conversation import ActiveContext, Snapshot
from ollm_tui.engine.base import (
    Backend,
    CancelToken,
    ChatMessage,
    Delta,
    Done,
    EngineError,
    GenParams,
)
from ollm_tui.session.context import ContextManager, Listener, MessageTooLong, usable
from ollm_tui.session.counting import PromptCounts
from ollm_tui.session.events import (
    CompressionEvent,
    CompressionFinished,
    CompressionStarted,
    CompressionStep,
    TurnDelta,
    TurnEvent,
    TurnFinished,
    TurnStarted,
)
from ollm_tui.session.summariser import EngineSummariser
from ollm_tui.settings import Settings
from ollm_tui.store.db import Chat, Message, Store, StoreUnusable

if TYPE_CHECKING:
    from ollm_tui.core.memory_guard import MemoryGuard
    from ollm_tui.core.tokens import TokenCounter
    from ollm_tui.engine.kv_state import ChatKvCache
    from ollm_tui.session.accounting import Accounting

__all__ = [
    "ChatSession",
    "CompressionEvent",
    "CompressionFinished",
    "CompressionStarted",
    "CompressionStep",
    "MessageTooLong",
    "TurnDelta",
    "TurnEvent",
    "TurnFinished",
    "TurnStarted",
    "title_from",
]

log = logging.getLogger("ollm.session")

SAVE_EVERY_S = 1.0
"""How often a streaming reply's partial text is written to the database."""


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
        listener: Listener | None = None,
        guard: MemoryGuard | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.counts = PromptCounts(engine)
        self.context = ContextManager(
            store,
            engine,
            settings,
            chat,
            summariser or EngineSummariser(engine, settings),
            self.counts,
            listener,
            guard,
        )
        """What the engine sees of this chat, how full it is, and compression."""
        self.kv: ChatKvCache | None = None
        """Per-chat KV state files (set by the app and ``ollm -p --chat``): restored before
        a reply when they cover more of the prompt than the live cache, saved after it."""

    # -- what the context manager holds (kept here for the callers' convenience) -----------

    @property
    def chat(self) -> Chat:
        """The chat (as last read or written)."""
        return self.context.chat

    @chat.setter
    def chat(self, chat: Chat) -> None:
        self.context.chat = chat

    @property
    def settings(self) -> Settings:
        """The settings in force (the settings form may change them mid-session)."""
        return self.context.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self.context.settings = settings

    @property
    def accounting(self) -> Accounting | None:
        """Exact, cached counts (set by the app and ``-p``); used when its tokenizer is the
        loaded model's, else the engine counts."""
        return self.counts.accounting

    @accounting.setter
    def accounting(self, accounting: Accounting | None) -> None:
        self.counts.accounting = accounting

    @property
    def summariser(self) -> Summariser:
        """Writes the checkpoint summaries (the loaded model, or ``summary_model``)."""
        return self.context.summariser

    @summariser.setter
    def summariser(self, summariser: Summariser) -> None:
        self.context.summariser = summariser

    @property
    def compressed(self) -> bool:
        """True once a compression ran in this session (``ollm -p`` reports it)."""
        return self.context.compressed

    @property
    def counter(self) -> TokenCounter | None:
        """The cached counter, when it counts for the model the engine has loaded."""
        return self.counts.counter

    def history(self) -> list[Message]:
        """The chat's stored messages, in order."""
        return self.context.history()

    def active_context(self) -> ActiveContext:
        """The checkpoints and the kept window the engine sees."""
        return self.context.active()

    @staticmethod
    def usable(history: Sequence[Message]) -> list[Message]:
        """The messages that can be sent: user and assistant turns with text."""
        return usable(history)

    def window(
        self, history: Sequence[Message], active: ActiveContext | None = None
    ) -> list[Message]:
        """The usable messages sent verbatim under ``active``."""
        return self.context.window(history, active)

    def engine_messages(
        self, history: Sequence[Message], active: ActiveContext | None = None
    ) -> list[ChatMessage]:
        """What the engine sees (see ``ContextManager.render``)."""
        return self.context.render(history, active)

    def budget(self, active: ActiveContext | None = None) -> Budget:
        """The budget under ``active`` (see ``ContextManager.budget``)."""
        return self.context.budget(active)

    def usage(self, extra: str | None = None) -> Usage:
        """How full the budget is now (with ``extra`` as one more user message)."""
        return self.context.usage(extra)

    def policy(self) -> Policy:
        """Compression numbers for this chat."""
        return self.context.policy()

    def count_text(self, text: str) -> int:
        """Exact tokens of a text with the loaded model's tokenizer."""
        return self.counts.text(text)

    def needs_compression(self, usage: Usage | None = None) -> bool:
        """See ``ContextManager.needs_compression``."""
        return self.context.needs_compression(usage)

    def compress(self, cancel: CancelToken, reason: str = "manual") -> Iterator[CompressionEvent]:
        """See ``ContextManager.compress``."""
        return self.context.compress(cancel, reason)

    def undo_compression(self) -> bool:
        """See ``ContextManager.undo_compression``."""
        undone = self.context.undo_compression()
        if undone:
            self.context.after_change()
        return undone

    def snapshots(self) -> list[Snapshot]:
        """The chat's snapshots, newest first."""
        return self.context.snapshots()

    def restore_snapshot(self, snapshot_id: int) -> None:
        """See ``ContextManager.restore_snapshot``."""
        self.context.restore_snapshot(snapshot_id)

    # -- turns -----------------------------------------------------------------------------

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
        prompt = yield from self.context.prepare(history, text, cancel)
        user = self.store.add_message(self.chat.id, "user", text)
        if self.chat.title == "New chat" and not any(m.role == "user" for m in history):
            self.rename(title_from(text))
        yield from self._reply(prompt, [*history, user], user, cancel, params or self.params())

    def regenerate(
        self, cancel: CancelToken, params: GenParams | None = None
    ) -> Iterator[TurnEvent]:
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
        prompt = yield from self.context.prepare(
            history, None, cancel
        )  # may raise: nothing deleted yet
        for reply in old_replies:
            self.store.delete_message(reply.id)
        yield from self._reply(prompt, history, None, cancel, params or self.params())

    def _reply(
        self,
        prompt: list[ChatMessage],
        history: list[Message],
        user: Message | None,
        cancel: CancelToken,
        params: GenParams,
    ) -> Iterator[TurnEvent]:
        """Stream the reply to ``prompt``; ``history`` is the chat before the reply."""
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
            meta = {**reply.meta, "error": str(exc)}
            save(content=text, status="error", meta=meta)
            failed = dataclasses.replace(reply, content=text, status="error", meta=meta)
            usage = self._measured([*history, failed])
            yield TurnFinished(failed, None, str(exc), usage, save_error)
            return
        except BaseException:
            # anything unexpected (or the worker being torn down): keep what we have
            with contextlib.suppress(StoreUnusable):
                self.store.update_message(reply.id, content="".join(parts), status="interrupted")
            raise
        text = "".join(parts)
        status = "stopped" if done is not None and done.stopped else "complete"
        meta = dict(reply.meta)
        if done is not None:
            meta |= {
                "prompt_tokens": done.prompt_tokens,
                "completion_tokens": done.completion_tokens,
                "ttft_s": round(done.ttft_s, 4),
                "tokens_per_s": round(done.tokens_per_s, 2),
                "finish_reason": done.finish_reason,
            }
        save_error = None  # the last save decides: an earlier failure is healed by it
        save(content=text, status=status, meta=meta)
        stored = dataclasses.replace(reply, content=text, status=status, meta=meta)
        usage = self._measured([*history, stored])
        yield TurnFinished(stored, done, None, usage, save_error)
        if self.kv is not None and save_error is None:  # after the reply is shown
            self.kv.after_turn(self.chat.id)

    def _measured(self, history: list[Message]) -> Usage | None:
        """The usage after the reply: counted once, here (the meter and the compression
        check reuse it); None when it cannot be counted, which never fails the turn."""
        try:
            measured = self.context.after_change(history, turn=True)
        except Exception:
            log.warning("counting the chat after the reply failed", exc_info=True)
            return None
        return measured.usage if measured is not None else None

    # -- chat housekeeping -------------------------------------------------------------------

    def rename(self, title: str) -> None:
        """Rename the chat."""
        self.store.rename_chat(self.chat.id, title)
        self.chat = self.store.get_chat(self.chat.id) or self.chat
