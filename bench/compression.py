"""Compression benchmark: a long scripted chat at 2K on the starter model.

    .venv/bin/python bench/compression.py [--turns 40] [--size 2048] [--reply-tokens 48]

The chat runs through ``ChatSession`` the way the app runs it: each message is sent (an
emergency compression may run in front of it), and right after the reply the chat is
compressed when ``needs_compression()`` says so. Reported: errors (must be 0), the
compressions and their mean time, and the prefill cost (prompt tokens actually evaluated,
``Done.evaluated_prompt_tokens``, and time to first token) of the first turn after a
compression against a normal turn (where prefix reuse evaluates only the new message).
Nothing is asserted; figures are printed as a table with ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ollm_tui.core.profiles import load_profiles
from ollm_tui.core.tiers import effective_limit, size_label
from ollm_tui.engine.base import CancelToken, Done, GenParams, LoadOptions
from ollm_tui.engine.llama.engine import LlamaEngine
from ollm_tui.engine.registry import starter_model_path
from ollm_tui.session.accounting import Accounting
from ollm_tui.session.chat import ChatSession, CompressionFinished, CompressionStep, TurnFinished
from ollm_tui.settings import Settings
from ollm_tui.settings.resources import bundled_dir
from ollm_tui.store.db import Store


def user_text(i: int) -> str:
    """A scripted message with names, numbers, paths and identifiers to keep."""
    return (
        f"Note {i}: Dana says the file src/module_{i}.py needs handle_{i}() fixed before "
        f"step {i * 7}. What should I check first?"
    )


def run(turns: int, size: int, reply_tokens: int, threads: int, warm: bool) -> None:
    model = starter_model_path()
    if model is None:
        sys.exit("the starter model is not installed (bash .ci/bootstrap install)")
    tmp = Path(tempfile.mkdtemp(prefix="ollm-bench-"))
    settings = Settings(
        data_dir=tmp / "d",
        config_dir=tmp / "c",
        log_dir=tmp / "l",
        n_threads=threads,
        n_threads_batch=threads,
        warm_after_compression=warm,
    )
    store = Store(settings.db_path)
    engine = LlamaEngine(load_profiles([bundled_dir("profiles")]))
    n_ctx = effective_limit(size)
    engine.load(model, LoadOptions(n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads))
    accounting = Accounting(settings, store)
    accounting.attach(engine.counting_codec(shared=True), model)
    chat = store.create_chat("bench")
    store.update_chat_settings(chat.id, tier=size_label(size))
    session = ChatSession(store, engine, settings, chat)
    session.accounting = accounting
    params = GenParams(temperature=0.0, max_tokens=reply_tokens, seed=1)
    errors: list[str] = []
    compress_s: list[float] = []
    fallbacks = 0
    steps: list[str] = []
    after: list[Done] = []
    normal: list[Done] = []
    just_compressed = False
    start = time.perf_counter()
    for i in range(turns):
        done: Done | None = None
        try:
            for event in session.send(user_text(i), CancelToken(), params):
                if isinstance(event, TurnFinished):
                    if event.error:
                        errors.append(event.error)
                    done = event.done
                elif isinstance(event, CompressionFinished):
                    compress_s.append(event.seconds)
                    just_compressed = True
                    fallbacks += bool(event.checkpoint and event.checkpoint.fallback)
                elif isinstance(event, CompressionStep):
                    steps.append(event.text)
        except Exception as exc:  # noqa: BLE001 - counted, the run goes on
            errors.append(f"{type(exc).__name__}: {exc}")
        if done is not None and i > 0:
            (after if just_compressed else normal).append(done)
        just_compressed = False
        if session.needs_compression():
            for event in session.compress(CancelToken(), "auto"):
                if isinstance(event, CompressionFinished):
                    if event.error:
                        errors.append(event.error)
                    else:
                        compress_s.append(event.seconds)
                        just_compressed = True
                        fallbacks += bool(event.checkpoint and event.checkpoint.fallback)
                elif isinstance(event, CompressionStep):
                    steps.append(event.text)
    total = time.perf_counter() - start
    usage = session.usage()
    active = store.checkpoints(chat.id)
    accounting.detach()
    engine.close()
    store.close()

    def mean(values: list[float]) -> float:
        return statistics.fmean(values) if values else 0.0

    ev_after = mean([d.evaluated_prompt_tokens for d in after])
    ev_normal = mean([d.evaluated_prompt_tokens for d in normal])
    ttft_after = mean([d.ttft_s for d in after])
    ttft_normal = mean([d.ttft_s for d in normal])
    print(
        f"# {turns} turns at {size_label(size)} (n_ctx {n_ctx}), SmolLM2-135M, "
        f"{threads} thread(s), "
        f"replies <= {reply_tokens} tokens, warm after compression: {'on' if warm else 'off'}; "
        f"{total:.1f} s in all"
    )
    print(f"errors                      {len(errors)}" + (f"  ({errors[0]})" if errors else ""))
    print(
        f"compressions                {len(compress_s)}  (extractive fallbacks: {fallbacks}, "
        f"notices: {len(steps)})"
    )
    print(
        f"mean compression time       {mean(compress_s):.2f} s  "
        f"(max {max(compress_s, default=0):.2f} s)"
    )
    print(f"active checkpoints at end   {len(active)}  ({', '.join(c.label for c in active)})")
    print(
        f"usage at end                {usage.used}/{usage.budget.available} ({usage.percent:.0f} %)"
    )
    print()
    print(f"{'prefill':<28}{'normal turn':>14}{'after compression':>20}{'ratio':>8}")
    print(
        f"{'evaluated prompt tokens':<28}{ev_normal:>14.0f}{ev_after:>20.0f}"
        f"{(ev_after / ev_normal if ev_normal else 0):>8.1f}"
    )
    print(
        f"{'time to first token (s)':<28}{ttft_normal:>14.3f}{ttft_after:>20.3f}"
        f"{(ttft_after / ttft_normal if ttft_normal else 0):>8.1f}"
    )
    print(f"{'turns measured':<28}{len(normal):>14}{len(after):>20}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--size", type=int, default=2048, help="context size (tier), e.g. 2048")
    parser.add_argument("--reply-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--no-warm",
        action="store_true",
        help="do not evaluate the new prompt "
        "right after a compression (shows the raw re-prefill cost)",
    )
    args = parser.parse_args()
    run(args.turns, args.size, args.reply_tokens, args.threads, not args.no_warm)


if __name__ == "__main__":
    main()
