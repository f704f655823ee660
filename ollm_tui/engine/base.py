"""The backend protocol every inference engine implements, and the types it speaks.

A backend is driven from one worker thread at a time. ``stream`` yields ``Delta`` events
while text arrives and ends with exactly one ``Done`` carrying the turn's figures.
Cancellation is cooperative: set the ``CancelToken`` from any thread; the backend stops
within half a second, during prefill as well as decode, and still ends with ``Done``
(``stopped=True``).

``Backend`` is everything the app asks of an engine: no caller probes an engine with
``getattr``. An engine without a feature gives an explicit answer instead of lacking the
member (a server model has no GGUF header here, no KV state to save, no token ids).
``tests/unit/test_backend_conformance.py`` and its real-model twin check every engine and
proxy against this protocol.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict

if TYPE_CHECKING:  # type-only: keeps this module (imported by every layer above) light
    from ollm_tui.core.gguf_info import GGUFInfo
    from ollm_tui.core.tokens import PromptCodec

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
    evaluated_prompt_tokens: int = (
        0  # prompt tokens actually computed (prefix reuse saves the rest)
    )

    @property
    def stopped(self) -> bool:
        """True when the user cancelled the reply."""
        return self.finish_reason == "cancelled"


StreamEvent = Delta | Done


@dataclass(frozen=True)
class KvKey:
    """What a saved KV state is only valid for (``engine.kv_state``)."""

    model: str
    """Fingerprint of the model file (size and hashes of its first and last MiB)."""
    n_ctx: int
    template: str
    """Hash of the chat format (its name and template text)."""
    layout: str
    """The KV cache's layout: llama-cpp-python version, flash attention, cache types."""

    def digest(self) -> str:
        """A short hash of the key (part of the file name)."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


class Backend(Protocol):
    """An inference engine. Not thread-safe: one worker thread drives it at a time."""

    # -- the model -------------------------------------------------------------------------

    @property
    def info(self) -> ModelInfo | None:
        """The loaded model, or None."""
        ...

    @property
    def gguf(self) -> GGUFInfo | None:
        """The GGUF header of the model file loaded last (None: none, or a server model)."""
        ...

    @property
    def context_source(self) -> str:
        """Where ``info.n_ctx`` came from when not from the tier planner (a server's
        endpoint or setting); empty for an in-process model."""
        ...

    @property
    def last_failure(self) -> EngineError | None:
        """The error that ended the last reply or request, when the engine keeps one (a
        server model); None otherwise."""
        ...

    @property
    def remote_active(self) -> bool:
        """True when the model in use runs on a server."""
        ...

    def load(
        self, path: Path, options: LoadOptions, cancel: CancelToken | None = None
    ) -> ModelInfo:
        """Load ``path`` (closing any model already loaded). Raises ``ModelLoadError``."""
        ...

    def close(self) -> None:
        """Free the model and its memory. Safe to call twice."""
        ...

    # -- replies ---------------------------------------------------------------------------

    def stream(
        self, messages: Sequence[ChatMessage], params: GenParams, cancel: CancelToken
    ) -> Iterator[StreamEvent]:
        """Generate a reply to ``messages``: ``Delta`` events, then one ``Done``."""
        ...

    # -- tokens ----------------------------------------------------------------------------

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Exact number of prompt tokens ``stream`` would feed for ``messages``."""
        ...

    def counting_codec(self, shared: bool = False) -> PromptCodec:
        """A ``PromptCodec`` counting the loaded model's prompts (``codec.exact`` says
        whether its counts are exact). ``shared``: use the engine's own tokenizer under its
        lock instead of a second copy (``ollm -p``); engines with one tokenizer ignore it.
        Raises ``EngineError`` when no model is loaded."""
        ...

    def tokenize(self, text: str) -> list[int] | None:
        """Plain text to the loaded model's tokens (no special tokens, no BOS); None when
        the engine cannot see token ids (a server model: count with the codec)."""
        ...

    # -- KV state (engine.kv_state) ----------------------------------------------------------

    def kv_key(self) -> KvKey | None:
        """The key saved KV states of the loaded model must match; None when there is no
        model or the engine keeps no KV state in this process (then the hooks below are
        never called by ``ChatKvCache``)."""
        ...

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], tuple[str, ...]]:
        """The exact token list fed for ``messages`` and the reply's stop strings. Raises
        ``EngineError`` where ``kv_key()`` is None for want of token ids."""
        ...

    def cached_tokens(self) -> list[int]:
        """The tokens the KV cache holds now (empty: none, or no KV state here)."""
        ...

    def save_seq_state(self) -> tuple[list[int], Any]:
        """The KV cache's tokens and its state bytes (any bytes-like object; ``[]`` and
        empty bytes when there is nothing to save)."""
        ...

    def restore_seq_state(self, tokens: Sequence[int], data: bytes | bytearray) -> bool:
        """Load a state from ``save_seq_state``; False when it cannot be used."""
        ...
