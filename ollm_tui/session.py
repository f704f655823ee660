"""One open chat: the store, the engine and the logic of a turn.

Used the same way by the app (from a thread worker) and by ``ollm -p`` (in the foreground):
``send`` and ``regenerate`` are generators of ``TurnEvent`` that run the engine and keep
the store up to date while they go, so a crash mid-reply loses at most a second of text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from ollm_tui.accounting import Accounting
    from ollm_tui.core.tokens import TokenCounter
    from ollm_tui.engine.kv_state import ChatKvCache
from ollm_tui.store.db import Chat, Message, Store

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


TurnEvent = TurnStarted | TurnDelta | TurnFinished


def title_from(text: str, limit: int = 40) -> str:
    """A chat title from its first message: the first line, cut at a word."""
    line = " ".join(text.strip().split())
    if len(line) <= limit:
        return line or "New chat"
    cut = line[:limit].rsplit(" ", 1)[0]
    return (cut or line[:limit]) + "…"


class ChatSession:
    """Turns for one chat. Methods that run the engine block: call them from a worker."""

    def __init__(self, store: Store, engine: Backend, settings: Settings, chat: Chat) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.chat = chat
        self.trimmed_messages = 0  # history messages left out of the last prompt to fit
        self.accounting: Accounting | None = None
        """Exact, cached counts (set by the app); used when its tokenizer is the loaded
        model's, else the engine counts."""
        self.kv: ChatKvCache | None = None
        """Per-chat KV state files (set by the app and ``ollm -p --chat``): restored before
        a reply when they cover more of the prompt than the live cache, saved after it."""

    # -- the prompt ----------------------------------------------------------------------

    def history(self) -> list[Message]:
        """The chat's stored messages, in order."""
        return self.store.messages(self.chat.id)

    def engine_messages(self, history: list[Message]) -> list[ChatMessage]:
        """What the engine sees: the system prompt, then usable turns (oldest first)."""
        out: list[ChatMessage] = []
        if self.settings.system_prompt:
            out.append({"role": "system", "content": self.settings.system_prompt})
        for m in history:
            if m.role in CONTEXT_ROLES and m.status in USABLE_STATUSES and m.content.strip():
                out.append({"role": m.role, "content": m.content})  # type: ignore[typeddict-item]
        return out

    def reply_reserve(self, n_ctx: int) -> int:
        """Tokens kept free for the reply: max_tokens or a quarter of the window."""
        return max(16, min(self.settings.max_tokens, n_ctx // 4))

    def fit(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        """Drop the oldest turns until the prompt plus the reply reserve fits the window.

        A stop-gap until compression into checkpoints: nothing is deleted from the store,
        the oldest messages are only left out of the prompt. Raises ``MessageTooLong`` when
        even the system prompt and the newest message alone do not fit.
        """
        info = self.engine.info
        if info is None:
            raise EngineError("no model is loaded")
        limit = info.n_ctx - self.reply_reserve(info.n_ctx)
        head = messages[:1] if messages and messages[0]["role"] == "system" else []
        body = messages[len(head) :]
        dropped = 0
        while True:
            used = self._count(head + body)
            if used <= limit:
                break
            if len(body) <= 1:
                raise MessageTooLong(
                    f"this message needs {used} tokens with the system prompt, but the "
                    f"{info.n_ctx}-token context leaves {limit} after the reply reserve"
                )
            # drop through the next user message so a reply never loses its question
            cut = max(1, self._enough_to_drop(head, body, used - limit))
            while cut < len(body) - 1 and body[cut]["role"] != "user":
                cut += 1
            dropped += cut
            body = body[cut:]
        self.trimmed_messages = dropped
        return head + body

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

    def _enough_to_drop(self, head: list[ChatMessage], body: list[ChatMessage], excess: int) -> int:
        """How many of the oldest ``body`` messages free about ``excess`` tokens (a guess
        from the cached per-message counts, checked by the caller's next exact count);
        1 without a counter."""
        counter = self.counter
        if counter is None:
            return 1
        try:
            breakdown = counter.count(head + body)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - one turn at a time, as without a counter
            return 1
        freed = 0
        for i in range(len(body) - 1):
            freed += breakdown.message_tokens(len(head) + i)
            if freed >= excess:
                return i + 1
        return len(body) - 1

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
        prompt = self.fit(self.engine_messages(history) + [{"role": "user", "content": text}])
        user = self.store.add_message(self.chat.id, "user", text)
        if self.chat.title == "New chat" and not any(m.role == "user" for m in history):
            self.rename(title_from(text))
        yield from self._reply(prompt, user, cancel, params or self.params())

    def regenerate(self, cancel: CancelToken, params: GenParams | None = None) -> Iterator[TurnEvent]:
        """Replace the last reply with a new one (the old one is deleted)."""
        history = [m for m in self.history() if m.role != "divider"]  # a model/tier switch note
        old_replies = []
        while history and history[-1].role == "assistant":
            old_replies.append(history.pop())
        if not history or history[-1].role != "user":
            raise EngineError("there is no message to answer again")
        prompt = self.fit(self.engine_messages(history))  # may raise: nothing deleted yet
        for reply in old_replies:
            self.store.delete_message(reply.id)
        yield from self._reply(prompt, None, cancel, params or self.params())

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
        try:
            for event in self.engine.stream(prompt, params, cancel):
                if isinstance(event, Delta):
                    parts.append(event.text)
                    yield TurnDelta(event.text)
                    now = time.monotonic()
                    if now - last_save >= SAVE_EVERY_S:
                        self.store.update_message(reply.id, content="".join(parts))
                        last_save = now
                else:
                    done = event
        except EngineError as exc:
            text = "".join(parts)
            self.store.update_message(
                reply.id, content=text, status="error", meta={"error": str(exc)}
            )
            yield TurnFinished(self._get(reply.id), None, str(exc))
            return
        except BaseException:
            # anything unexpected (or the worker being torn down): keep what we have
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
        self.store.update_message(reply.id, content=text, status=status, meta=meta)
        yield TurnFinished(self._get(reply.id), done)
        if self.kv is not None:  # after the reply is shown: the caller already has it
            self.kv.after_turn(self.chat.id)

    def _get(self, message_id: int) -> Message:
        msg = self.store.get_message(message_id)
        assert msg is not None
        return msg

    # -- chat housekeeping ---------------------------------------------------------------

    def rename(self, title: str) -> None:
        """Rename the chat."""
        self.store.rename_chat(self.chat.id, title)
        self.chat = self.store.get_chat(self.chat.id) or self.chat
