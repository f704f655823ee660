"""An engine that is created on first use.

Importing llama-cpp-python takes about 0.2 s (numpy, the shared library, Jinja). The app
wraps its engine in ``LazyEngine`` so that cost is paid in the model-load worker, after
the first frame is on screen, instead of before it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ollm_tui.engine.base import Backend
from ollm_tui.engine.proxy import EngineProxy


class LazyEngine(EngineProxy):
    """A ``Backend`` that builds the real one with ``factory`` the first time it is needed.

    Model facts (``info``, ``gguf``, ``kv_key()``…) and ``close`` never create the engine:
    before it exists there is no model.
    """

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
    def target(self) -> Backend:
        """The real engine, created on first use."""
        return self.engine

    @property
    def current(self) -> Backend | None:
        """The real engine if it was created, else None."""
        return self._engine


_: type[Backend] = LazyEngine  # mypy checks that the proxy satisfies the protocol
