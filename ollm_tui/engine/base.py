"""The backend protocol every inference engine implements, and the types it speaks.

A backend is driven from one worker thread at a time. ``stream`` yields ``Delta`` events
while text arrives and ends with exactly one ``Done`` carrying the turn's figures.
Cancellation is cooperative: set the ``CancelToken`` from any thread; the backend stops
within half a second, during prefill as well as decode, and still ends with ``Done``
(``stopped=True``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, TypedDict

Role = Literal["system", "user", "assistant"]


class ChatMessage(TypedDict):
    """One message as the engine sees it."""

    role: Role
    content: str


class EngineError(Exception):
    """Base class for errors a backend reports to the user."""


class ModelLoadError(EngineError):
    """The model file is missing, unreadable, not GGUF, truncated, or fails to load."""


class GenerationError(EngineError):
    """Generation failed after the model was loaded."""


class ContextOverflowError(GenerationError):
    """The prompt does not fit in the loaded context window."""


class CancelToken:
    """A thread-safe flag that asks a running generation to stop."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the generation to stop as soon as possible."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once ``cancel`` was called."""
        return self._event.is_set()


@dataclass(frozen=True)
class GenParams:
    """Sampling parameters for one reply."""

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    repeat_penalty: float = 1.1
    max_tokens: int = 1024
    seed: int | None = None


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model. ``n_ctx`` is the effective context the engine allocates."""

    n_ctx: int = 4096
    n_threads: int = 1
    n_threads_batch: int = 1
    flash_attn: bool = True
    n_gpu_layers: int = 0
    n_batch: int = 512
    n_ubatch: int = 512
    chat_format: str | None = None  # profile override; None = the GGUF template


@dataclass(frozen=True)
class ModelInfo:
    """What the loaded model is, for the status line and the CLI."""

    name: str
    path: Path
    n_ctx: int
    n_ctx_train: int
    chat_format: str  # "gguf template", a profile format name, or a fallback name
    format_note: str = ""  # non-empty when the user should be told how prompts are formatted
    load_seconds: float = 0.0


@dataclass(frozen=True)
class Delta:
    """A piece of reply text."""

    text: str


@dataclass(frozen=True)
class Done:
    """The end of one reply, with its figures."""

    prompt_tokens: int
    completion_tokens: int
    ttft_s: float  # request to first token
    tokens_per_s: float  # completion tokens / decode time
    total_s: float
    finish_reason: Literal["stop", "length", "cancelled"]
    evaluated_prompt_tokens: int = 0  # prompt tokens actually computed (prefix reuse saves the rest)

    @property
    def stopped(self) -> bool:
        """True when the user cancelled the reply."""
        return self.finish_reason == "cancelled"


StreamEvent = Delta | Done


class Backend(Protocol):
    """An inference engine. Not thread-safe: one worker thread drives it at a time."""

    @property
    def info(self) -> ModelInfo | None:
        """The loaded model, or None."""
        ...

    def load(self, path: Path, options: LoadOptions, cancel: CancelToken | None = None) -> ModelInfo:
        """Load ``path`` (closing any model already loaded). Raises ``ModelLoadError``."""
        ...

    def close(self) -> None:
        """Free the model and its memory. Safe to call twice."""
        ...

    def stream(
        self, messages: Sequence[ChatMessage], params: GenParams, cancel: CancelToken
    ) -> Iterator[StreamEvent]:
        """Generate a reply to ``messages``: ``Delta`` events, then one ``Done``."""
        ...

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Exact number of prompt tokens ``stream`` would feed for ``messages``."""
        ...
