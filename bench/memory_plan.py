"""The memory plan against reality: load a model on the CPU at each offered size and compare
the measured growth of the process's resident memory with the plan.

    .venv/bin/python bench/memory_plan.py [--model gemma] [--json]

Each size runs in a fresh interpreter: RSS is read after the imports, then after loading
the model and answering a 700-word prompt (so the weights, the KV cache and the compute
buffers have all been touched). Prints planned MiB, measured MiB and planned / measured.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys, psutil
from pathlib import Path
from ollm_tui.engine.llama.engine import LlamaEngine
from ollm_tui.engine.base import LoadOptions, GenParams, CancelToken
path, n_ctx = Path(sys.argv[1]), int(sys.argv[2])
engine = LlamaEngine()
proc = psutil.Process()
before = proc.memory_info().rss
engine.load(path, LoadOptions(n_ctx=n_ctx, n_threads=1, n_threads_batch=1))
prompt = [{"role": "user", "content": "word " * 700}]
for _ in engine.stream(prompt, GenParams(max_tokens=4, temperature=0.0), CancelToken()):
    pass
print(json.dumps({"rss_growth": proc.memory_info().rss - before, "n_ctx": engine.info.n_ctx}))
engine.close()
"""


def measure(path: str, n_ctx: int) -> int:
    """RSS growth in bytes of a fresh process that loads ``path`` at ``n_ctx`` and answers."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, path, str(n_ctx)], capture_output=True, text=True, check=True
    ).stdout
    return int(json.loads(out.strip().splitlines()[-1])["rss_growth"])


def compare(which: str) -> list[dict[str, object]]:
    """Planned and measured bytes for every size offered for the model."""
    from ollm_tui.core.gguf_info import read_gguf_info
    from ollm_tui.core.hardware import fixed_probe
    from ollm_tui.core.tiers import plan_tiers
    from ollm_tui.engine.registry import gemma_test_model_path, starter_model_path

    path = gemma_test_model_path() if which == "gemma" else starter_model_path()
    assert path is not None, f"the {which} model is not installed"
    plan = plan_tiers(read_gguf_info(path), fixed_probe().snapshot())
    rows = []
    for option in plan.options:
        measured = measure(str(path), option.n_ctx)
        rows.append(
            {
                "model": path.stem,
                "size": option.label,
                "n_ctx": option.n_ctx,
                "planned": option.need,
                "measured": measured,
                "ratio": round(option.need / measured, 3),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["starter", "gemma", "both"], default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    models = ["starter", "gemma"] if args.model == "both" else [args.model]
    rows = [row for m in models for row in compare(m)]
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'model':<28} {'size':>5} {'n_ctx':>6} {'planned':>9} {'measured':>9} {'ratio':>6}")
    for r in rows:
        print(
            f"{r['model']:<28} {r['size']:>5} {r['n_ctx']:>6} {r['planned'] / 2**20:>7.0f}Mi "
            f"{r['measured'] / 2**20:>7.0f}Mi {r['ratio']:>6.2f}"
        )


if __name__ == "__main__":
    main()
