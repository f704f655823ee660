"""Benchmarks on the starter model: the app's pipeline against raw llama-cpp-python, the
time to first token late in a chat, and reopening a chat from its saved KV state.

    .venv/bin/python -m bench --only pipeline,turn20,reopen
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_cpp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Line, bench_settings, wait_for
from ollm_tui.core.profiles import load_profiles
from ollm_tui.engine.base import CancelToken, ChatMessage, Delta, Done, GenParams, LoadOptions
from ollm_tui.engine.factory import load_options
from ollm_tui.engine.kv_state import ChatKvCache, KvStateStore
from ollm_tui.engine.llama.engine import LlamaEngine
from ollm_tui.engine.registry import starter_model_path
from ollm_tui.session.chat import ChatSession, TurnDelta, TurnFinished, TurnStarted
from ollm_tui.session.events import TurnEvent
from ollm_tui.settings import Settings
from ollm_tui.settings.resources import bundled_dir
from ollm_tui.store.db import Store

QUESTION = "Explain how a bicycle works, part by part, in detail."


def new_engine(settings: Settings, n_ctx: int) -> tuple[LlamaEngine, LoadOptions]:
    options = load_options(settings, n_ctx)
    engine = LlamaEngine(load_profiles([bundled_dir("profiles")]))
    path = starter_model_path()
    assert path is not None, "the starter model is installed by `bash .ci/bootstrap test`"
    engine.load(path, options)
    return engine, options


def first_token(
    engine: LlamaEngine, messages: list[ChatMessage], params: GenParams
) -> tuple[float, Done]:
    """Seconds from the call to the first reply text, and the turn's figures."""
    start = time.perf_counter()
    first = None
    done = None
    for event in engine.stream(messages, params, CancelToken()):
        if isinstance(event, Delta) and first is None:
            first = time.perf_counter() - start
        elif isinstance(event, Done):
            done = event
    assert done is not None
    return (first if first is not None else done.total_s), done


# -- app pipeline vs raw create_chat_completion ---------------------------------------------


async def app_rounds(
    settings: Settings, engine: LlamaEngine, options: LoadOptions, rounds: int
) -> list[tuple[float, int]]:
    from ollm_tui.cli.chat import build_components
    from ollm_tui.session.components import Startup
    from ollm_tui.ui.app import make_app

    store = Store(settings.db_path)
    seen: list[Done] = []
    stream = engine.stream

    def recording(*args: Any, **kwargs: Any):
        for event in stream(*args, **kwargs):
            if isinstance(event, Done):
                seen.append(event)
            yield event

    engine.stream = recording  # type: ignore[method-assign]
    startup = Startup(engine.info.path if engine.info else None, load_options=options)
    app = make_app(build_components(settings, store, engine), startup)
    out = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.load_state == "ready", 60, "the model")
            for _ in range(rounds):
                if app.chat_list.chats and app.store.messages(app.chat.id):
                    await app.action_new_chat()
                engine._llm.reset()  # type: ignore[union-attr]  # cold prefill, like the raw run
                count = len(seen)
                app.composer.load_text(QUESTION)
                start = time.perf_counter()
                app.composer.action_submit()
                await wait_for(
                    pilot,
                    lambda count=count: (
                        len(seen) > count
                        and app.turn is None
                        and app.transcript.last_reply().status == "complete"
                    ),
                    300,
                    "the reply",
                )
                out.append((time.perf_counter() - start, seen[-1].completion_tokens))
                await app.workers.wait_for_complete()
    finally:
        del engine.stream
        store.close()
    return out


def raw_rounds(settings: Settings, engine: LlamaEngine, rounds: int) -> list[tuple[float, int]]:
    llm = engine._llm
    assert llm is not None
    out = []
    messages = [
        {"role": "system", "content": settings.system_prompt},
        {"role": "user", "content": QUESTION},
    ]
    for _ in range(rounds):
        llm.reset()
        start = time.perf_counter()
        tokens = 0
        for chunk in llm.create_chat_completion(
            messages=messages,
            max_tokens=settings.max_tokens,
            temperature=0.0,
            top_p=0.95,
            top_k=40,
            repeat_penalty=1.1,
            stream=True,
        ):
            if chunk["choices"][0]["delta"].get("content"):
                tokens += 1
        out.append((time.perf_counter() - start, tokens + 1))  # + the end-of-turn token
    return out


def pipeline(rounds: int = 2, max_tokens: int = 160) -> Line:
    """Tokens per second reaching the chat widget, against raw ``create_chat_completion``."""
    settings = bench_settings(temperature=0.0, max_tokens=max_tokens, kv_cache_max_bytes=0)
    engine, options = new_engine(settings, 2048)
    app_runs, raw_runs = [], []
    for _ in range(rounds):  # alternate, so both see the same machine load
        app_runs += asyncio.run(app_rounds(settings, engine, options, 1))
        raw_runs += raw_rounds(settings, engine, 1)
    engine.close()
    app_rate = statistics.median(t / s for s, t in app_runs)
    raw_rate = statistics.median(t / s for s, t in raw_runs)
    ratio = app_rate / raw_rate
    return Line(
        "pipeline: app / raw tokens per s",
        app_rate,
        raw_rate,
        ratio,
        "ratio >= 0.97",
        ratio >= 0.97,
        "tok/s",
        f"{rounds} rounds each, {max_tokens} tokens max, cold prefill, "
        "request to last token on screen",
    )


# -- turn 20 vs turn 1 ------------------------------------------------------------------------

FILLER = (
    "Here is some context for this question: the garden has roses, tulips and daisies; the "
    "shed holds a rake, a spade and a hose; the pond has three fish and a small bridge. "
)


def first_reply_text(events: Iterator[TurnEvent]) -> tuple[float, float, Done | None]:
    """Run a turn to its end: seconds to ``TurnStarted`` (the app's work before the engine)
    and to the first reply text, and the engine's figures."""
    start = time.perf_counter()
    started = first = None
    done = None
    for event in events:
        if isinstance(event, TurnStarted) and started is None:
            started = time.perf_counter() - start
        elif isinstance(event, TurnDelta) and first is None:
            first = time.perf_counter() - start
        elif isinstance(event, TurnFinished) and event.done is not None:
            done = event.done
    return started or 0.0, first or 0.0, done


def keep_prefix(llm: Any, n: int) -> None:
    """Cut the KV cache back to its first ``n`` tokens (what turn 20 found cached)."""
    llm._ctx.kv_cache_seq_rm(-1, n, -1)
    llm.n_tokens = n
    llm._requires_eval = True


def engine_first_token(engine: LlamaEngine, tokens: list[int], n_cached: int) -> float:
    """llama.cpp's own time for the new tokens of a prompt over a cached prefix: evaluate
    ``tokens[n_cached:]`` on top of the first ``n_cached`` and sample the first token, on
    the engine's ``Llama`` without the app's abort callback (which ggml calls from every
    graph node: it is the app's cost, not the engine's)."""
    llm = engine._llm
    assert llm is not None
    keep_prefix(llm, n_cached)
    llama_cpp.llama_set_abort_callback(llm._ctx.ctx, llama_cpp.ggml_abort_callback(0), None)
    try:
        start = time.perf_counter()
        llm.eval(tokens[n_cached:])
        llm.sample(top_k=40, top_p=0.95, temp=0.0, repeat_penalty=1.1)
        return time.perf_counter() - start
    finally:
        llama_cpp.llama_set_abort_callback(llm._ctx.ctx, engine._abort_cb, None)


def turn20(turns: int = 20, reply_tokens: int = 40, repeats: int = 5) -> list[Line]:
    """First-token time at turn 20 (history ~3,000 tokens) against turn 1, with prefix reuse,
    and against a naive full re-prefill of the same prompt. A second line isolates the app:
    turn 20's first token through ``ChatSession`` against llama.cpp's own time to evaluate
    the same new tokens over the same cached prefix, alternated ``repeats`` times."""
    settings = bench_settings(temperature=0.0, max_tokens=reply_tokens, kv_cache_max_bytes=0)
    engine, _ = new_engine(settings, 8192)  # room for ~3,300 tokens without a compression
    llm = engine._llm
    assert llm is not None
    store = Store(settings.db_path)
    session = ChatSession(store, engine, settings, store.create_chat("bench"))
    firsts: list[float] = []
    dones: list[Done] = []
    for k in range(1, turns + 1):
        _, first, done = first_reply_text(
            session.send(
                f"{FILLER * 3}Question {k}: which flower is the {k}th word about?", CancelToken()
            )
        )
        assert done is not None
        firsts.append(first)
        dones.append(done)
    history = session.engine_messages(session.history())[:-1]  # turn 20's prompt again
    tokens, _ = engine.prompt_tokens(history)
    assert len(tokens) == dones[-1].prompt_tokens, "turn 20's prompt renders the same again"
    n_cached = len(tokens) - dones[-1].evaluated_prompt_tokens
    # side by side: the engine alone, then turn 20 again through the app (regenerate), each
    # over the same cached prefix of n_cached tokens; turn 20 itself is the first app sample
    app_firsts, app_starts, raw_firsts = [firsts[-1]], [], []
    for i in range(repeats):
        raw_firsts.append(engine_first_token(engine, tokens, n_cached))
        if i == repeats - 1:
            break
        keep_prefix(llm, n_cached)
        started, first, done = first_reply_text(session.regenerate(CancelToken()))
        assert done is not None and done.evaluated_prompt_tokens == len(tokens) - n_cached
        app_firsts.append(first)
        app_starts.append(started)
    engine._llm.reset()  # type: ignore[union-attr]
    naive, naive_done = first_token(
        engine, history, GenParams(temperature=0.0, max_tokens=reply_tokens)
    )
    engine.close()
    store.close()
    ratio, naive_ratio = firsts[-1] / firsts[0], naive / firsts[0]
    note = (
        f"turn 1: {firsts[0]:.2f} s ({dones[0].prompt_tokens} tokens); "
        f"turn {turns}: {firsts[-1]:.2f} s "
        f"({dones[-1].prompt_tokens} tokens, {dones[-1].evaluated_prompt_tokens} evaluated); "
        f"naive re-prefill: {naive:.2f} s ({naive_done.evaluated_prompt_tokens} evaluated)"
    )
    app_s, raw_s = statistics.median(app_firsts), statistics.median(raw_firsts)
    app_ratio = app_s / raw_s
    app_note = (
        f"{len(tokens) - n_cached} new tokens over {n_cached} cached, medians of "
        f"{len(app_firsts)} app / {len(raw_firsts)} engine runs alternated; "
        f"app {', '.join(f'{s:.2f}' for s in app_firsts)} s (turn {turns}, then regenerated; "
        f"send to the engine call {1000 * statistics.median(app_starts or [0.0]):.0f} ms), "
        f"engine eval + first sample {', '.join(f'{s:.2f}' for s in raw_firsts)} s"
    )
    return [
        Line(
            f"turn {turns} / turn 1 first token",
            ratio,
            naive_ratio,
            ratio / naive_ratio,
            "measured <= 1.5",
            ratio <= 1.5,
            "x",
            note,
        ),
        Line(
            f"turn {turns} first token: app / engine alone",
            app_s,
            raw_s,
            app_ratio,
            "ratio <= 1.1",
            app_ratio <= 1.1,
            "s",
            app_note,
        ),
    ]


# -- reopening a chat: restored state vs cold prefill ------------------------------------------


def reopen(history_words: int = 1700) -> list[Line]:
    """First-token time of the next turn of a chat with 1,800+ tokens of history, after the
    engine was reloaded (the app reopened): restored from its KV state file vs cold."""
    settings = bench_settings(temperature=0.0, max_tokens=24)
    engine, options = new_engine(settings, 4096)
    store = Store(settings.db_path)
    chat = store.create_chat("reopen")
    session = ChatSession(store, engine, settings, chat)
    kv = ChatKvCache(KvStateStore(settings.kv_dir, settings.kv_cache_max_bytes), engine)
    words = " ".join(f"{FILLER}" for _ in range(history_words // 40))
    for _ in session.send(words + "\nWhat does the shed hold?", CancelToken()):
        pass
    start = time.perf_counter()
    saved = kv.after_turn(chat.id)
    save_s = time.perf_counter() - start
    assert saved is not None
    size = saved.stat().st_size
    prompt = [
        *session.engine_messages(session.history()),
        {"role": "user", "content": "And the pond?"},
    ]
    params = GenParams(temperature=0.0, max_tokens=8)
    path = engine.info.path  # type: ignore[union-attr]

    engine.close()
    engine.load(path, options)
    kv = ChatKvCache(KvStateStore(settings.kv_dir, settings.kv_cache_max_bytes), engine)
    report = kv.before_turn(chat.id, prompt)
    restored_first, restored_done = first_token(engine, prompt, params)
    restored = report.seconds + restored_first  # the restore counts
    assert report.action == "restored", report

    engine.close()
    engine.load(path, options)
    cold, cold_done = first_token(engine, prompt, params)
    engine.close()
    store.close()
    ratio = restored / cold
    note = (
        f"{cold_done.prompt_tokens} prompt tokens: cold prefill {cold:.2f} s, "
        f"restored {restored * 1000:.0f} ms "
        f"(restore {report.seconds * 1000:.0f} ms, "
        f"then {restored_done.evaluated_prompt_tokens} tokens evaluated); "
        f"state file {size / 2**20:.1f} MiB written in {save_s * 1000:.0f} ms"
    )
    return [
        Line(
            "reopen: restored / cold first token",
            restored,
            cold,
            ratio,
            "ratio <= 0.05",
            ratio <= 0.05,
            "s",
            note,
        )
    ]


if __name__ == "__main__":
    for fn in (pipeline, turn20, reopen):
        result = fn()
        for line in result if isinstance(result, list) else [result]:
            print(line)
