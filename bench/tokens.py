"""Token accounting benchmarks: cache speed-up, estimate error, and a keystroke's meter cost.

    .venv/bin/python bench/tokens.py [--messages 2000] [--models smollm2,gemma]

1. Exact count of a long chat cold (nothing cached) against the same count warm: the same
   list again (in-memory), after a restart (every part from SQLite), and with one new
   message (all parts but one from memory). Goal: warm/cold <= 0.01.
2. Estimate error on prose and code: raw tiktoken (cl100k), chars/4, and tiktoken
   calibrated on other texts of the same model. Goal: calibrated <= 5 %.
3. One keystroke's meter update in the running app (estimate + meter refresh), against a
   60 Hz frame (16.7 ms).

Figures are measured side by side in one run and printed as ratios; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ollm_tui.core.profiles import load_profiles
from ollm_tui.core.token_estimate import Calibration, chars_estimate, raw_estimate
from ollm_tui.engine.llama.tokenizer import load_codec
from ollm_tui.engine.registry import gemma_test_model_path, starter_model_path
from ollm_tui.session.accounting import Accounting
from ollm_tui.settings import Settings
from ollm_tui.settings.resources import bundled_dir
from ollm_tui.store.db import Store


def corpus() -> tuple[list[str], list[str]]:
    """Prose (the user guide's paragraphs, stdlib docstrings) and code (stdlib source), offline."""
    prose = []
    for page in [
        *sorted((ROOT / "docs").rglob("*.md")),
        ROOT / "README.md",
        ROOT / "CONTRIBUTING.md",
    ]:
        for para in page.read_text().split("\n\n"):
            if len(para) > 200 and not para.lstrip().startswith(("|", "```", "#", "-")):
                prose.append(para)
    import argparse as a
    import collections
    import email.message
    import json.decoder as j
    import logging
    import pathlib as p
    import subprocess
    import textwrap as t
    import threading

    for module in (collections, email.message, logging, subprocess, threading):  # docstrings
        for _, obj in inspect.getmembers(
            module, lambda o: inspect.isclass(o) or inspect.isfunction(o)
        ):
            doc = inspect.getdoc(obj) or ""
            for para in doc.split("\n\n"):
                if len(para) > 200 and para not in prose:
                    prose.append(para)

    code = []
    for module in (a, j, t, p):
        members = inspect.getmembers(module, inspect.isfunction) + inspect.getmembers(
            module, inspect.isclass
        )
        for _, fn in members:
            if getattr(fn, "__module__", None) != module.__name__:
                continue
            try:
                src = inspect.getsource(fn)
            except (OSError, TypeError):
                continue
            for start in range(0, len(src), 3000):  # classes in pieces of a message's size
                if len(src[start : start + 3000]) > 300:
                    code.append(src[start : start + 3000])
    return prose, code


def chat(n: int, prose: list[str], code: list[str]) -> list[dict[str, str]]:
    rng = random.Random(7)
    out = [
        {"role": "system", "content": "You are a helpful assistant. Answer clearly and concisely."}
    ]
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        text = rng.choice(code if rng.random() < 0.3 else prose)
        out.append({"role": role, "content": f"({i}) {text}"})
    return out


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_cache(name: str, path: Path, messages: list[dict[str, str]], profiles) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), config_dir=Path(tmp), log_dir=Path(tmp))
        store = Store(settings.db_path)
        acc = Accounting(settings, store)
        acc.attach(load_codec(path, profiles))
        counter = acc.counter
        assert counter is not None
        chars = sum(len(m["content"]) for m in messages)
        start = time.perf_counter()
        total = counter.total(messages)
        cold = time.perf_counter() - start
        whole = timed(lambda: counter.codec.count(counter.codec.render(messages)))
        # fresh string objects, as the app reads them from the database on every count
        same = timed(
            lambda: counter.total(
                [{**m, "content": m["content"].encode().decode()} for m in messages]
            ),
            5,
        )
        plus_one = [*messages, {"role": "user", "content": "One more question?"}]
        incremental = timed(lambda: counter.total(plus_one))
        acc.detach()
        store.close()
        store = Store(settings.db_path)  # "restart": empty memory, the same database
        acc = Accounting(settings, store)
        acc.attach(load_codec(path, profiles))
        restarted = timed(lambda: acc.counter.total(messages))  # type: ignore[union-attr]
        acc.detach()
        store.close()
    print(f"\n{name}: {len(messages) - 1} messages, {chars / 1e6:.2f} M chars, {total:,} tokens")
    print(
        f"  cold (parts tokenized, cached)       {cold * 1000:9.1f} ms   "
        f"(one whole-prompt tokenize: {whole * 1000:.1f} ms)"
    )
    print(
        f"  warm, same list (memory)             {same * 1000:9.2f} ms   "
        f"warm/cold = {same / cold:.4f}"
    )
    print(
        f"  warm, one message added (memory)     {incremental * 1000:9.2f} ms   "
        f"warm/cold = {incremental / cold:.4f}"
    )
    print(
        f"  warm, after a restart (SQLite)       {restarted * 1000:9.2f} ms   "
        f"warm/cold = {restarted / cold:.4f}"
    )


def bench_estimates(name: str, path: Path, prose: list[str], code: list[str], profiles) -> None:
    """5-fold cross-validation: calibrate on four fifths of the texts, measure on the rest."""
    codec = load_codec(path, profiles)
    rng = random.Random(3)
    texts = [
        (k, t, codec.count(t), raw_estimate(t))
        for k, group in (("prose", prose), ("code", code))
        for t in group
    ]
    rng.shuffle(texts)
    folds = 5
    errors: dict[str, dict[str, list[float]]] = {
        k: {"raw": [], "chars/4": [], "calibrated": []} for k in ("prose", "code")
    }
    per_text: dict[str, list[float]] = {"prose": [], "code": []}
    for f in range(folds):
        train = [x for i, x in enumerate(texts) if i % folds != f]
        test = [x for i, x in enumerate(texts) if i % folds == f]
        cal = Calibration()
        for _, text, exact, _ in train:  # the app calibrates from the exact counts it makes anyway
            cal.add_text(text, exact)
        for kind in ("prose", "code"):
            group = [x for x in test if x[0] == kind]
            exact = sum(x[2] for x in group)
            if not exact:
                continue
            errors[kind]["raw"].append((sum(x[3] for x in group) - exact) / exact)
            errors[kind]["chars/4"].append(
                (sum(chars_estimate(x[1]) for x in group) - exact) / exact
            )
            errors[kind]["calibrated"].append(
                (sum(cal.scaled(x[1]) for x in group) - exact) / exact
            )
            per_text[kind] += [abs(cal.scaled(x[1]) - x[2]) / x[2] for x in group]
    print(
        f"\n{name}: estimate error, (estimate - exact) / exact over held-out texts, "
        f"mean of {folds} folds"
    )
    for kind in ("prose", "code"):
        n = sum(1 for x in texts if x[0] == kind)
        tokens = sum(x[2] for x in texts if x[0] == kind)
        e = {k: 100 * statistics.mean(v) for k, v in errors[kind].items()}
        worst = 100 * max(abs(v) for v in errors[kind]["calibrated"])
        print(
            f"  {kind:5} ({n:3} texts, {tokens:6,} tokens): "
            f"raw tiktoken {e['raw']:+6.1f}%   chars/4 {e['chars/4']:+6.1f}%   "
            f"calibrated {e['calibrated']:+6.1f}% (worst fold {worst:.1f}%, "
            f"median per text {100 * statistics.median(per_text[kind]):.1f}%)"
        )
    codec.close()


def bench_keystroke(prose: list[str]) -> None:
    from ollm_tui.ui.context_watch import INLINE_CHARS
    from tests.app.helpers import make_test_app, wait_ready, wait_until
    from tests.fakes import FakeEngine

    async def run() -> list[tuple[int, float]]:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp), config_dir=Path(tmp), log_dir=Path(tmp))
            store = Store(settings.db_path)
            app, _ = make_test_app(settings, store, FakeEngine())
            rows = []
            async with app.run_test(size=(120, 30)) as pilot:
                await wait_ready(pilot)
                await wait_until(pilot, lambda: app.context.counts >= 1)
                text = " ".join(prose) * 3
                for size in (100, 1_900, 8_000, 50_000):
                    sample = text[:size]
                    times = []
                    for i in range(50):
                        start = time.perf_counter()
                        app.context._estimate(sample + str(i))  # what the debounce timer runs
                        app.status_line.meter.refresh()
                        times.append(time.perf_counter() - start)
                    rows.append((size, statistics.median(times)))
            store.close()
            return rows

    print("\none keystroke's meter update (estimate + meter refresh, after the 0.25 s debounce)")
    for size, seconds in asyncio.run(run()):
        where = "estimated on the UI thread" if size <= INLINE_CHARS else "handed to a worker"
        print(
            f"  composer with {size:6,} chars ({where}): {seconds * 1e3:6.3f} ms"
            f" = {seconds / (1 / 60):.3f} of a 60 Hz frame"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--models", default="smollm2,gemma")
    args = parser.parse_args()
    profiles = load_profiles([bundled_dir("profiles")])
    prose, code = corpus()
    models = {"smollm2": starter_model_path(), "gemma": gemma_test_model_path(assemble=True)}
    messages = chat(args.messages, prose, code)
    for name in args.models.split(","):
        path = models[name]
        if path is None:
            print(f"{name}: not installed")
            continue
        bench_cache(name, path, messages, profiles)
        bench_estimates(name, path, prose, code, profiles)
    bench_keystroke(prose)


if __name__ == "__main__":
    main()
