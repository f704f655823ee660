"""An engine that is created on first use.

Importing llama-cpp-python takes about 0.2 s (numpy, the shared library, Jinja). The app
wraps its engine in ``LazyEngine`` so that cost is paid in the model-load worker, after
the first frame is on screen, instead of before it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ollm_tui.engine.base import (
    Backend,
    CancelToken,
    ChatMessage,
    GenParams,
    LoadOptions,
    ModelInfo,
    StreamEvent,
)


class LazyEngine:
    """A ``Backend`` that builds the real one with ``factory`` the first time it is needed."""

    def __init__(self, factory: Callable[[], Backend]) -> None:
        self._factory = factory
        self._engine: Backend | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Backend:
        """The real engine (created now if it was not yet)."""
        with self._lock:
            if self._engine is None:
                self._engine = self._factory()
            return self._engine

    @property
    def info(self) -> ModelInfo | None:
        """The loaded model, or None (never creates the engine)."""
        return self._engine.info if self._engine is not None else None

    def load(self, path: Path, options: LoadOptions, cancel: CancelToken | None = None) -> ModelInfo:
        """Create the engine if needed, then load ``path``."""
        return self.engine.load(path, options, cancel)

    def close(self) -> None:
        """Close the engine if it was ever created."""
        if self._engine is not None:
            self._engine.close()

    def stream(
        self, messages: Sequence[ChatMessage], params: GenParams, cancel: CancelToken
    ) -> Iterator[StreamEvent]:
        """Delegate to the real engine."""
        return self.engine.stream(messages, params, cancel)

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Delegate to the real engine."""
        return self.engine.count_prompt_tokens(messages)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)
