"""Time to first token and decode speed on the starter model, thread counts side by side.

    .venv/bin/python bench/engine_speed.py [--rounds 3] [--busy]

``--busy`` runs a CPU-burning process beside the model, to show how each thread count holds
up when the machine is not quiet. Prints one line per setting and the ratio to 1 thread.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

from ollm_tui.engine.base import CancelToken, Done, GenParams, LoadOptions
from ollm_tui.engine.llama.engine import LlamaEngine
from ollm_tui.engine.registry import starter_model_path
from ollm_tui.settings import usable_cores

PROMPT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Explain in detail how a bicycle works, part by part."},
]


def burn(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x += 1


def run(threads: int, rounds: int) -> tuple[float, float]:
    engine = LlamaEngine()
    engine.load(
        starter_model_path(), LoadOptions(n_ctx=2048, n_threads=threads, n_threads_batch=threads)
    )
    ttfts, speeds = [], []
    for r in range(rounds + 1):
        engine.load(
            starter_model_path(),
            LoadOptions(n_ctx=2048, n_threads=threads, n_threads_batch=threads),
        )
        done = None
        for ev in engine.stream(
            PROMPT, GenParams(temperature=0.0, max_tokens=128, seed=r), CancelToken()
        ):
            if isinstance(ev, Done):
                done = ev
        if r:  # the first round warms caches
            ttfts.append(done.ttft_s)
            speeds.append(done.tokens_per_s)
    engine.close()
    return statistics.median(ttfts), statistics.median(speeds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--busy", action="store_true")
    args = ap.parse_args()
    burner = None
    if args.busy:
        burner = multiprocessing.Process(target=burn, args=(time.time() + 600,), daemon=True)
        burner.start()
    results = {}
    for threads in sorted({1, max(1, usable_cores() - 1), usable_cores()}):
        results[threads] = run(threads, args.rounds)
    _base_ttft, base_speed = results[min(results)]
    print(f"machine: {usable_cores()} usable cores; busy neighbour: {args.busy}")
    print(f"{'threads':>7}  {'ttft s':>7}  {'tok/s':>7}  {'speed vs 1 thread':>17}")
    for threads, (ttft, speed) in results.items():
        print(f"{threads:>7}  {ttft:7.3f}  {speed:7.1f}  {speed / base_speed:17.2f}")
    if burner:
        burner.terminate()


if __name__ == "__main__":
    main()
