"""Building engines: the in-process engine with its profiles, wrapped for the app and routed
to servers when servers are configured; and the load options the settings imply.

``cli/chat.py`` (the composition root) and the summariser build their engines here, so no
module above ``engine/`` ever constructs a ``LlamaEngine`` itself.
"""

from __future__ import annotations

from ollm_tui.core.profiles import load_profiles
from ollm_tui.engine.base import Backend, LoadOptions
from ollm_tui.settings import Settings
from ollm_tui.settings.resources import bundled_dir


def make_engine(settings: Settings, lazy: bool = False) -> tuple[Backend, list[str]]:
    """The in-process engine with bundled and user profiles, and the profile errors found.

    ``lazy`` defers importing llama-cpp-python until the first model load (the app does
    that in a worker, so the first frame does not wait for the import). With servers
    configured, one engine routes each load to the in-process engine or to the server.
    """
    profiles = load_profiles([bundled_dir("profiles"), settings.user_profiles_dir])

    def build() -> Backend:
        from ollm_tui.engine.llama.engine import LlamaEngine

        return LlamaEngine(profiles)

    engine: Backend
    if lazy:
        from ollm_tui.engine.lazy import LazyEngine

        engine = LazyEngine(build)
    else:
        engine = build()
    if settings.servers:
        from ollm_tui.engine.remote.engine import RemoteEngine
        from ollm_tui.engine.routing import RoutedEngine

        engine = RoutedEngine(engine, RemoteEngine(settings.servers, settings.server_timeouts()))
    return engine, list(profiles.errors)


def load_options(
    settings: Settings, n_ctx: int | None = None, n_gpu_layers: int = 0
) -> LoadOptions:
    """How the engine should load a model under ``settings``.

    ``n_ctx`` is the effective limit of the chosen tier (``engine.planning``); without it
    ``settings.context_size`` is used.
    """
    return LoadOptions(
        n_ctx=n_ctx or settings.context_size,
        n_gpu_layers=n_gpu_layers,
        n_threads=settings.n_threads,
        n_threads_batch=settings.n_threads_batch,
        flash_attn=settings.flash_attn,
        n_ubatch=settings.n_ubatch,
    )
