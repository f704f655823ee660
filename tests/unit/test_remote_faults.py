"""Server failures end in a clear error, the partial reply kept and marked, and no hang.

A small server the test controls (tests/fake_server.py) misbehaves on purpose; the session,
the store (a real SQLite file) and the remote engine are the real ones. Timeouts are short,
so a hang would fail the test (pytest-timeout) rather than pass slowly.
"""

from __future__ import annotations

import threading

import pytest

from ollm_tui.engine.base import CancelToken, Delta, Done, GenParams, LoadOptions
from ollm_tui.engine.remote.engine import (
    MalformedEvent,
    RemoteEngine,
    RemoteLoadError,
    ServerHTTPError,
    ServerTimeout,
    ServerUnreachable,
    StreamCut,
    Timeouts,
)
from ollm_tui.session.chat import ChatSession, TurnFinished
from ollm_tui.settings.logs import setup_logging
from ollm_tui.settings.servers import ServerConfig, remote_path
from tests.fake_server import MODEL, PIECES, FakeServer, free_port

pytestmark = pytest.mark.timeout(30)

FAST = Timeouts(connect=1.0, read=0.5, short=1.0)


def engine_for(url: str, key: str | None = None) -> RemoteEngine:
    return RemoteEngine([ServerConfig("box", url, api_key=key, context=2048)], FAST)


def run_turn(engine: RemoteEngine, store, settings, cancel: CancelToken | None = None):
    session = ChatSession(store, engine, settings, store.create_chat())
    events = list(session.send("Say hello", cancel or CancelToken(), GenParams(max_tokens=20)))
    finished = events[-1]
    assert isinstance(finished, TurnFinished)
    return session, finished


@pytest.fixture
def server():
    with FakeServer() as s:
        yield s


def test_a_good_stream_is_whole(server, store, settings):
    engine = engine_for(server.url)
    info = engine.load(remote_path("box", MODEL), LoadOptions())
    assert info.n_ctx == 2048  # the server says nothing: the server's context setting
    _, finished = run_turn(engine, store, settings)
    assert finished.error is None
    assert finished.reply.content == "".join(PIECES)
    assert finished.reply.status == "complete"
    assert finished.done is not None and finished.done.finish_reason == "stop"


def test_a_connection_closed_after_the_finish_loses_nothing(server, store, settings):
    engine = engine_for(server.url)
    engine.load(remote_path("box", MODEL), LoadOptions())
    server.mode = "late_cut"
    _, finished = run_turn(engine, store, settings)
    assert finished.error is None and finished.reply.status == "complete"
    assert finished.reply.content == "".join(PIECES)


@pytest.mark.parametrize(
    ("mode", "error", "words"),
    [
        ("stall", ServerTimeout, "timed out"),
        ("cut", StreamCut, "closed the connection"),
        ("malformed", MalformedEvent, "malformed event"),
    ],
)
def test_a_broken_stream_keeps_the_partial_reply(server, store, settings, mode, error, words):
    engine = engine_for(server.url)
    engine.load(remote_path("box", MODEL), LoadOptions())
    server.mode = mode
    session, finished = run_turn(engine, store, settings)
    assert finished.done is None
    assert words in finished.error and "box" in finished.error
    assert isinstance(engine.last_failure, error)
    stored = store.messages(session.chat.id)
    assert [m.role for m in stored] == ["user", "assistant"]
    reply = stored[-1]
    assert reply.status == "error"  # marked
    assert reply.content == "".join(PIECES[:2])  # nothing that arrived is lost
    assert words in reply.meta["error"]


def test_http_500_gives_the_servers_message(server, store, settings):
    engine = engine_for(server.url)
    engine.load(remote_path("box", MODEL), LoadOptions())
    server.mode = "http500"
    session, finished = run_turn(engine, store, settings)
    assert "HTTP 500" in finished.error and "model crashed: out of memory" in finished.error
    assert isinstance(engine.last_failure, ServerHTTPError) and engine.last_failure.status == 500
    assert store.messages(session.chat.id)[-1].status == "error"


def test_a_server_that_died_after_loading_is_reported(store, settings):
    with FakeServer() as s:
        engine = engine_for(s.url)
        engine.load(remote_path("box", MODEL), LoadOptions())
    session, finished = run_turn(engine, store, settings)
    assert "cannot reach server box" in finished.error and "refused" in finished.error
    assert isinstance(engine.last_failure, ServerUnreachable)
    assert store.messages(session.chat.id)[-1].status == "error"


def test_loading_from_a_refused_port_fails_clearly():
    engine = engine_for(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RemoteLoadError, match="connection refused"):
        engine.load(remote_path("box", MODEL), LoadOptions())
    assert engine.info is None


def test_an_unknown_model_lists_what_the_server_has(server):
    engine = engine_for(server.url)
    with pytest.raises(RemoteLoadError, match=f"no model 'other'.*{MODEL}"):
        engine.load(remote_path("box", "other"), LoadOptions())


def test_cancel_during_a_stall_returns_at_once(server):
    engine = engine_for(server.url)
    engine.timeouts = Timeouts(connect=1.0, read=20.0, short=1.0)  # the stall outlasts the test
    engine.load(remote_path("box", MODEL), LoadOptions())
    server.mode = "stall"
    cancel = CancelToken()
    events = []
    done = threading.Event()

    def consume() -> None:
        for event in engine.stream([{"role": "user", "content": "hi"}], GenParams(), cancel):
            events.append(event)
            if len(events) == 2:
                cancel.cancel()
        done.set()

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    assert done.wait(5), "the stream did not stop after a cancel"
    assert [e.text for e in events if isinstance(e, Delta)] == PIECES[:2]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "cancelled"


def test_the_api_key_is_sent_but_never_logged(server, settings, store):
    key = "sk-test-secret-4242"
    setup_logging(settings.log_file)
    engine = engine_for(server.url, key)
    engine.load(remote_path("box", MODEL), LoadOptions())
    run_turn(engine, store, settings)
    server.mode = "http500"
    run_turn(engine, store, settings)
    assert all(h.get("Authorization") == f"Bearer {key}" for h in server.seen)
    log = settings.log_file.read_text(encoding="utf-8")
    assert "box" in log  # the requests were logged ...
    assert key not in log  # ... without the key


@pytest.mark.parametrize(
    ("routes", "n_ctx", "source"),
    [
        ({"/v1/models": {"data": [{"id": MODEL, "max_model_len": 32768}]}}, 32768, "max_model_len"),
        ({"/props": {"default_generation_settings": {"n_ctx": 8192}}}, 8192, "/props"),
        (
            {
                "/api/show": {
                    "parameters": "stop <eos>\nnum_ctx 6144",
                    "model_info": {"llama.context_length": 131072},
                }
            },
            6144,
            "num_ctx",
        ),
        ({"/api/show": {"model_info": {"qwen2.context_length": 32768}}}, 32768, "context_length"),
        ({}, 2048, "the context setting of server box"),
    ],
)
def test_the_context_window_comes_from_the_server_when_it_says(server, routes, n_ctx, source):
    server.routes.update(routes)
    engine = engine_for(server.url)
    info = engine.load(remote_path("box", MODEL), LoadOptions(n_ctx=1024))
    assert info.n_ctx == n_ctx and source in engine.context_source


def test_without_a_server_setting_the_context_is_ollms_own(server):
    engine = RemoteEngine([ServerConfig("box", server.url)], FAST)
    assert engine.load(remote_path("box", MODEL), LoadOptions(n_ctx=3072)).n_ctx == 3072
    assert "ollm's context setting" in engine.context_source


def test_a_server_without_a_tokenizer_is_counted_by_estimate(server):
    engine = engine_for(server.url)
    engine.load(remote_path("box", MODEL), LoadOptions())
    codec = engine.counting_codec()
    assert not codec.exact and codec.how.startswith("estimate")
    assert (
        engine.count_prompt_tokens([{"role": "user", "content": "Hello there, how are you?"}]) > 5
    )


def test_an_estimate_is_calibrated_by_the_servers_prompt_counts(server):
    engine = engine_for(server.url)
    engine.load(remote_path("box", MODEL), LoadOptions())
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Tell me about the history of the printing press in Europe."},
    ]
    codec = engine.counting_codec()
    before, fingerprint = engine.count_prompt_tokens(messages), codec.fingerprint
    server.usage = {"prompt_tokens": 2 * before, "completion_tokens": 4}  # a wordier tokenizer
    done = list(engine.stream(messages, GenParams(), CancelToken()))[-1]
    assert done.prompt_tokens == 2 * before  # the server's own figure
    after = engine.count_prompt_tokens(messages)
    assert abs(after - 2 * before) <= max(1, before // 50)
    assert not codec.exact and "calibrated ×2.00" in codec.how
    assert codec.fingerprint != fingerprint  # counts cached before are not reused
