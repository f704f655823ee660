"""The ``Backend`` checks of ``tests/conformance.py`` on real engines: the starter model in
process, llama-cpp-python's server with the same model, and both proxies over them."""

from __future__ import annotations

from pathlib import Path

from ollm_tui.engine.base import LoadOptions
from ollm_tui.engine.lazy import LazyEngine
from ollm_tui.engine.llama.engine import LlamaEngine
from ollm_tui.engine.remote.engine import RemoteEngine
from ollm_tui.engine.routing import RoutedEngine
from ollm_tui.settings.servers import ServerConfig, remote_path
from tests.conformance import check_backend

OPTIONS = LoadOptions(n_ctx=2048, n_threads=2, n_threads_batch=2)


def test_the_llama_engine(smollm_path: Path, profiles) -> None:
    engine = LlamaEngine(profiles)
    check_backend(engine, smollm_path, OPTIONS)
    assert engine.gguf is not None and engine.gguf.path == smollm_path  # kept after close


def test_a_lazy_llama_engine(smollm_path: Path, profiles) -> None:
    check_backend(LazyEngine(lambda: LlamaEngine(profiles)), smollm_path, OPTIONS)


def test_the_remote_engine_on_llama_cpp_pythons_server(llama_server: str) -> None:
    remote = RemoteEngine([ServerConfig("local", llama_server)])
    check_backend(remote, remote_path("local", ""), OPTIONS)


def test_a_routed_engine_both_ways(smollm_path: Path, profiles, llama_server: str) -> None:
    def routed() -> RoutedEngine:
        remote = RemoteEngine([ServerConfig("local", llama_server)])
        return RoutedEngine(LlamaEngine(profiles), remote)

    check_backend(routed(), smollm_path, OPTIONS)
    check_backend(routed(), remote_path("local", ""), OPTIONS)
