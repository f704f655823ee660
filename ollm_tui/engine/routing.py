"""One ``Backend`` over two engines: GGUF files run in-process, server models on their server.

The app and ``ollm -p`` hold a single engine; when servers are configured it is a
``RoutedEngine``, which hands each ``load`` to the in-process engine or to the remote one
by the model's path (server models have ``remote:/`` pseudo paths, see ``engine.servers``)
and closes the other, so a local model's memory is freed when a server model takes over.
"""

from __future__ import annotations

from pathlib import Path

from ollm_tui.engine.base import Backend, CancelToken, LoadOptions, ModelInfo
from ollm_tui.engine.proxy import EngineProxy
from ollm_tui.engine.remote.engine import RemoteEngine
from ollm_tui.settings.servers import is_remote


class RoutedEngine(EngineProxy):
    """The in-process engine for files, ``remote`` for server models."""

    def __init__(self, local: Backend, remote: RemoteEngine) -> None:
        self.local = local
        self.remote = remote
        self._active: Backend = local

    @property
    def active(self) -> Backend:
        """The engine of the model loaded last (the local one before any load)."""
        return self._active

    @property
    def target(self) -> Backend:
        """Calls go to the engine of the model in use."""
        return self._active

    @property
    def remote_active(self) -> bool:
        """True when the model in use is on a server."""
        return self._active is self.remote

    def load(
        self, path: Path, options: LoadOptions, cancel: CancelToken | None = None
    ) -> ModelInfo:
        """Load ``path`` with the engine it belongs to, closing the other one."""
        target: Backend = self.remote if is_remote(path) else self.local
        other = self.local if target is self.remote else self.remote
        other.close()
        self._active = target
        return target.load(path, options, cancel)

    def close(self) -> None:
        """Close both engines."""
        self.local.close()
        self.remote.close()


_: type[Backend] = RoutedEngine  # mypy checks that the proxy satisfies the protocol
