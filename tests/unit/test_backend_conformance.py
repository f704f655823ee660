"""Every engine the app can hold satisfies ``Backend``: the same checks (``tests/conformance.py``)
on the fake engine, the remote engine against the test server, and both proxies.

The real llama engine and llama-cpp-python's server run the same checks in
``tests/integration/test_backend_conformance_real.py``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from ollm_tui.engine.base import Backend, LoadOptions
from ollm_tui.engine.lazy import LazyEngine
from ollm_tui.engine.proxy import EngineProxy
from ollm_tui.engine.remote.engine import RemoteEngine, Timeouts
from ollm_tui.engine.routing import RoutedEngine
from ollm_tui.settings.servers import ServerConfig, remote_path
from tests.conformance import check_backend, check_members, protocol_members
from tests.fake_server import MODEL, FakeServer
from tests.fakes import FakeCodec, FakeEngine

pytestmark = pytest.mark.timeout(60)

FAKE_MODEL = Path("/models/fake-model.gguf")
OPTIONS = LoadOptions(n_ctx=2048)
FAST = Timeouts(connect=1.0, read=5.0, short=1.0)


@pytest.fixture
def server():
    with FakeServer() as s:
        yield s


def remote_for(url: str) -> RemoteEngine:
    return RemoteEngine([ServerConfig("box", url, context=2048)], FAST)


def test_the_protocol_covers_what_the_app_reads() -> None:
    expected = {
        "info",
        "gguf",
        "context_source",
        "last_failure",
        "remote_active",
        "load",
        "close",
        "stream",
        "count_prompt_tokens",
        "counting_codec",
        "tokenize",
        "kv_key",
        "prompt_tokens",
        "cached_tokens",
        "save_seq_state",
        "restore_seq_state",
    }
    assert set(protocol_members()) == expected
    assert "shared" in inspect.signature(Backend.counting_codec).parameters


def test_the_fake_engine() -> None:
    check_backend(FakeEngine(reply="Hello there friend"), FAKE_MODEL, OPTIONS)


def test_the_fake_codec_has_the_codec_facts() -> None:
    codec = FakeCodec()
    assert codec.exact is True and codec.how == ""
    codec.close()


def test_the_remote_engine(server) -> None:
    check_backend(remote_for(server.url), remote_path("box", MODEL), OPTIONS)


def test_a_lazy_engine() -> None:
    built: list[FakeEngine] = []

    def build() -> FakeEngine:
        built.append(FakeEngine(reply="Hello there friend"))
        return built[-1]

    lazy = LazyEngine(build)
    check_members(lazy)
    assert lazy.info is None and lazy.gguf is None and lazy.kv_key() is None
    lazy.close()
    assert built == []  # facts and close never create the engine
    check_backend(lazy, FAKE_MODEL, OPTIONS)
    assert len(built) == 1 and built[0].closed >= 1


def test_a_routed_engine_on_the_local_side(server) -> None:
    routed = RoutedEngine(FakeEngine(reply="Hello there friend"), remote_for(server.url))
    check_backend(routed, FAKE_MODEL, OPTIONS)
    assert not routed.remote_active


def test_a_routed_engine_on_the_server_side(server) -> None:
    routed = RoutedEngine(FakeEngine(reply="Hello there friend"), remote_for(server.url))
    check_backend(routed, remote_path("box", MODEL), OPTIONS)
    assert routed.remote_active and routed.active is routed.remote


def test_the_proxies_spell_out_every_member() -> None:
    own = {n for k in EngineProxy.__mro__ if k is not object for n in vars(k)}
    assert set(protocol_members()) <= own
    for cls in (LazyEngine, RoutedEngine):
        assert not any("__getattr__" in vars(k) for k in cls.__mro__)
