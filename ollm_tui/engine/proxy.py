"""One base for engines that stand in front of another: every ``Backend`` member, spelled out.

``LazyEngine`` (creates the real engine on first use) and ``RoutedEngine`` (the in-process
engine or the server one, by the model's path) derive from ``EngineProxy``. Each member
delegates to ``target``; the model facts read ``current`` instead, so a proxy can answer
them without creating an engine (a lazy engine that was never used has no model). There is
no ``__getattr__``: what an engine offers is the ``Backend`` protocol, and a member missing
here is a type error, not a silent pass-through.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ollm_tui.engine.base import (
    Backend,
    CancelToken,
    ChatMessage,
    EngineError,
    GenParams,
    KvKey,
    LoadOptions,
    ModelInfo,
    StreamEvent,
)

if TYPE_CHECKING:
    from ollm_tui.core.gguf_info import GGUFInfo
    from ollm_tui.core.tokens import PromptCodec


class EngineProxy(ABC):
    """A ``Backend`` that forwards every member to ``target``."""

    @property
    @abstractmethod
    def target(self) -> Backend:
        """The engine calls go to (a proxy may create it here)."""

    @property
    def current(self) -> Backend | None:
        """The engine the model facts are read from, without creating one (None: no engine
        yet, so no model either)."""
        return self.target

    # -- the model -------------------------------------------------------------------------

    @property
    def info(self) -> ModelInfo | None:
        """The loaded model, or None."""
        engine = self.current
        return engine.info if engine is not None else None

    @property
    def gguf(self) -> GGUFInfo | None:
        """The GGUF header of the model file loaded last, or None."""
        engine = self.current
        return engine.gguf if engine is not None else None

    @property
    def context_source(self) -> str:
        """Where the context size came from, when not from the tier planner."""
        engine = self.current
        return engine.context_source if engine is not None else ""

    @property
    def last_failure(self) -> EngineError | None:
        """The error that ended the last reply, where the engine keeps one."""
        engine = self.current
        return engine.last_failure if engine is not None else None

    @property
    def remote_active(self) -> bool:
        """True when the model in use runs on a server."""
        engine = self.current
        return engine.remote_active if engine is not None else False

    def load(
        self, path: Path, options: LoadOptions, cancel: CancelToken | None = None
    ) -> ModelInfo:
        """Load ``path`` with the target engine."""
        return self.target.load(path, options, cancel)

    def close(self) -> None:
        """Close the engine, if there is one. Safe to call twice."""
        engine = self.current
        if engine is not None:
            engine.close()

    # -- replies and tokens ----------------------------------------------------------------

    def stream(
        self, messages: Sequence[ChatMessage], params: GenParams, cancel: CancelToken
    ) -> Iterator[StreamEvent]:
        """Delegate to the target engine."""
        return self.target.stream(messages, params, cancel)

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Delegate to the target engine."""
        return self.target.count_prompt_tokens(messages)

    def counting_codec(self, shared: bool = False) -> PromptCodec:
        """Delegate to the target engine."""
        return self.target.counting_codec(shared)

    def tokenize(self, text: str) -> list[int] | None:
        """Delegate to the target engine."""
        return self.target.tokenize(text)

    # -- KV state --------------------------------------------------------------------------

    def kv_key(self) -> KvKey | None:
        """The target's key (None without an engine: nothing loaded, nothing to save)."""
        engine = self.current
        return engine.kv_key() if engine is not None else None

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], tuple[str, ...]]:
        """Delegate to the target engine."""
        return self.target.prompt_tokens(messages)

    def cached_tokens(self) -> list[int]:
        """Delegate to the target engine."""
        return self.target.cached_tokens()

    def save_seq_state(self) -> tuple[list[int], Any]:
        """Delegate to the target engine."""
        return self.target.save_seq_state()

    def restore_seq_state(self, tokens: Sequence[int], data: bytes | bytearray) -> bool:
        """Delegate to the target engine."""
        return self.target.restore_seq_state(tokens, data)
