"""The remote engine against a real server: llama-cpp-python's own, with the starter model.

Streaming, cancelling, exact token counts through its tokenize endpoint, and ``ollm -p``.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from ollm_tui.cli import main
from ollm_tui.engine.base import CancelToken, Delta, Done, GenParams, LoadOptions
from ollm_tui.engine.remote.engine import RemoteEngine
from ollm_tui.session.chat import ChatSession, TurnFinished
from ollm_tui.settings.servers import ServerConfig, remote_path
from tests.fake_server import free_port

CONVERSATIONS = [
    [{"role": "user", "content": "Hi"}],
    [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Name three colours."},
    ],
    [
        {"role": "system", "content": "Answer in one line."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "And 東京 café 🙂 — with\ttabs\n\nand ```code```?"},
    ],
]


@pytest.fixture
def remote(llama_server):
    engine = RemoteEngine([ServerConfig("local", llama_server, context=2048)])
    engine.load(remote_path("local", ""), LoadOptions())  # "": the server's first model
    yield engine
    engine.close()


def test_load_names_the_model_and_its_context(remote, smollm_path):
    assert remote.model == str(smollm_path)  # llama-cpp-python lists the path it serves
    assert remote.info.name == f"{smollm_path.stem}@local"
    assert remote.info.n_ctx == 2048


def test_a_reply_streams_in_pieces(remote):
    events = list(
        remote.stream(
            [{"role": "user", "content": "Count from one to ten in words."}],
            GenParams(temperature=0.0, max_tokens=40),
            CancelToken(),
        )
    )
    deltas = [e for e in events if isinstance(e, Delta)]
    done = events[-1]
    assert isinstance(done, Done) and len(deltas) > 3
    assert "".join(d.text for d in deltas).strip()
    assert done.completion_tokens >= len(deltas) and done.finish_reason in ("stop", "length")


def test_cancel_stops_mid_stream_and_the_server_stays_usable(remote):
    cancel = CancelToken()
    pieces = []
    started = time.perf_counter()
    for event in remote.stream(
        [{"role": "user", "content": "Write a very long story about a dragon."}],
        GenParams(max_tokens=600),
        cancel,
    ):
        if isinstance(event, Delta):
            pieces.append(event.text)
            if len(pieces) == 5:
                cancel.cancel()
        else:
            done = event
    assert done.finish_reason == "cancelled" and len(pieces) >= 5
    assert time.perf_counter() - started < 30  # 600 tokens would take far longer here
    again = list(
        remote.stream([{"role": "user", "content": "Hi"}], GenParams(max_tokens=5), CancelToken())
    )
    assert isinstance(again[-1], Done) and again[-1].finish_reason in ("stop", "length")


def test_token_counts_equal_what_the_server_reports(remote, llama_server):
    codec = remote.counting_codec()
    assert codec.exact, codec.how
    assert "/extras/tokenize" in codec.how
    for messages in CONVERSATIONS:
        answer = httpx.post(
            f"{llama_server}/v1/chat/completions",
            json={"messages": messages, "max_tokens": 1, "temperature": 0.0},
            timeout=60,
        ).json()
        assert remote.count_prompt_tokens(messages) == answer["usage"]["prompt_tokens"]


def test_the_same_chat_counts_the_same_as_in_process(remote, smollm):
    for messages in CONVERSATIONS:
        assert remote.count_prompt_tokens(messages) == smollm.count_prompt_tokens(messages)


def test_a_session_turn_stores_the_reply_and_its_figures(remote, settings, store):
    session = ChatSession(store, remote, settings.with_(max_tokens=30), store.create_chat())
    finished = list(session.send("Name one colour.", CancelToken()))[-1]
    assert isinstance(finished, TurnFinished) and finished.error is None
    reply = store.messages(session.chat.id)[-1]
    assert reply.status == "complete" and reply.content
    messages = session.engine_messages(store.messages(session.chat.id)[:-1])
    assert reply.meta["prompt_tokens"] == remote.count_prompt_tokens(messages)


def test_ollm_p_against_the_server(llama_server, capsys, monkeypatch, tmp_path):
    for var, sub in (("OLLM_DATA_DIR", "d"), ("OLLM_CONFIG_DIR", "c"), ("OLLM_LOG_DIR", "l")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("OLLM_SCAN_EXTERNAL", "0")
    code = main(
        [
            "-p",
            "Name one colour.",
            "--server",
            llama_server,
            "--max-tokens",
            "20",
            "--output",
            "json",
            "--context",
            "2048",
            "--temperature",
            "0",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["reply"] and out["model"].endswith("@" + llama_server.split("//")[1])
    assert out["context_size"] == 2048 and out["tier"] is None
    assert out["prompt_tokens"] > 0 and out["context"]["tokens"] > out["prompt_tokens"]
    assert out["context"]["exact"] is True  # counted by the server's tokenizer, checked


def test_ollm_p_with_a_dead_server_or_unknown_model_exits_3(
    llama_server, capsys, monkeypatch, tmp_path
):
    for var, sub in (("OLLM_DATA_DIR", "d"), ("OLLM_CONFIG_DIR", "c"), ("OLLM_LOG_DIR", "l")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    dead = f"http://127.0.0.1:{free_port()}"
    assert main(["-p", "hi", "--server", dead]) == 3
    assert "connection refused" in capsys.readouterr().err
    assert main(["-p", "hi", "--server", llama_server, "--model", "nope"]) == 3
    assert "has no model 'nope'" in capsys.readouterr().err
