"""Prompt-lookup (speculative) decoding on the starter model, against plain decoding.

llama-cpp-python's ``LlamaPromptLookupDecoding`` proposes the next tokens by finding the
last few generated tokens earlier in the context and copying what followed them; the model
checks them all in one batch. That can only pay off where the reply repeats the prompt
(editing a code block, quoting a passage), so those cases are measured beside an ordinary
chat reply.

With ``Llama(draft_model=...)`` the library turns on logits for every token but sizes its
logits array for ``n_batch`` rows unless ``logits_all=True`` was passed too, so any prompt
plus reply longer than ``n_batch`` raises (ENGINE-NOTES). The workaround measured here is
``logits_all=True``: an ``n_ctx x n_vocab`` float array (400 MB for SmolLM2 at 2K) and the
output layer run for every prompt token. A variant with that workaround and no draft model
shows what the workaround alone costs.

Every variant decodes greedily from the same prompt tokens (rendered by the app's engine)
with a cold cache, alternated run by run so that all see the same machine load.

    .venv/bin/python -m bench --only speculative
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp.llama_speculative import LlamaDraftModel, LlamaPromptLookupDecoding

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Line, bench_settings
from bench.model import new_engine
from ollm_tui.engine.base import ChatMessage

CODE = """\
def average(values):
    total = 0
    count = 0
    for value in values:
        total += value
        count += 1
    if count == 0:
        return 0
    return total / count


def largest(values):
    best = None
    for value in values:
        if best is None or value > best:
            best = value
    return best
"""

PASSAGE = (
    "The river rises in the hills above the town, where three small streams meet below an "
    "old stone mill. For most of the year it is shallow enough to cross on foot, but in "
    "spring the melting snow turns it brown and fast, and the footbridge at the mill has "
    "been rebuilt four times in the last century. Below the town the valley widens, the "
    "water slows, and the river bends through meadows where herons stand in the reeds. "
    "Fishermen say the best pools are under the willows at the second bend, where the "
    "current has cut the bank away and the trout wait in the shade for whatever the water "
    "brings them."
)

CASES: dict[str, str] = {
    # the starter model copies some lines of the code and rewrites the rest
    "code edit": (
        "In this code, rename the variable `total` to `running_sum`. Show the full code."
        "\n\n```python\n" + CODE + "```"
    ),
    # it repeats this passage word for word
    "quote": "Repeat this text exactly:\n\n" + PASSAGE,
    # and this one with a few words changed
    "near quote": PASSAGE + "\n\nCopy the text above word for word.",
    "chat": "Explain how a bicycle works, part by part, in detail.",
}


class StrictPromptLookup(LlamaDraftModel):
    """The library's lookup, but only on a match of at least ``min_ngram`` tokens (the
    library falls back to matching the last token alone, which drafts in any reply)."""

    def __init__(self, min_ngram: int = 3, max_ngram: int = 4, num_pred_tokens: int = 10):
        self.min_ngram, self.max_ngram, self.num_pred_tokens = min_ngram, max_ngram, num_pred_tokens

    def __call__(self, input_ids: Any, /, **kwargs: Any) -> Any:
        n = input_ids.shape[0]
        for size in range(min(self.max_ngram, n - 1), self.min_ngram - 1, -1):
            windows = np.lib.stride_tricks.sliding_window_view(input_ids, (size,))
            for idx in np.nonzero(np.all(windows == input_ids[-size:], axis=1))[0]:
                start = idx + size
                end = min(start + self.num_pred_tokens, n)
                if start < end:
                    return input_ids[start:end]
        return np.array([], dtype=np.intc)


@dataclass
class Run:
    """One reply: seconds to the first token and in all, the tokens it produced, and how
    many batches the model evaluated after the prompt (one per token without drafts)."""

    first_s: float
    total_s: float
    tokens: int
    text: str
    steps: int

    @property
    def rate(self) -> float:
        """Tokens per second over the whole reply, prefill included."""
        return self.tokens / self.total_s

    @property
    def decode_rate(self) -> float:
        """Tokens per second after the first one."""
        span = self.total_s - self.first_s
        return (self.tokens - 1) / span if self.tokens > 1 and span > 0 else 0.0


def generate(
    llm: llama_cpp.Llama, tokens: list[int], stop: tuple[str, ...], max_tokens: int
) -> Run:
    """A greedy reply to ``tokens`` from an empty cache."""
    llm.reset()
    sampled = [0]
    evals = [0]
    real_eval = type(llm).eval

    def count(_ids: Any, _logits: Any) -> bool:
        sampled[0] += 1
        return False

    def counting_eval(batch: Any) -> None:
        evals[0] += 1
        real_eval(llm, batch)

    llm.eval = counting_eval  # type: ignore[method-assign]

    start = time.perf_counter()
    first = None
    parts = []
    try:
        for chunk in llm.create_completion(
            prompt=tokens,
            max_tokens=max_tokens,
            temperature=0.0,
            top_p=0.95,
            top_k=40,
            repeat_penalty=1.1,
            stop=list(stop),
            stream=True,
            stopping_criteria=llama_cpp.StoppingCriteriaList([count]),
        ):
            text = chunk["choices"][0].get("text") or ""  # type: ignore[index]
            if text and first is None:
                first = time.perf_counter() - start
            parts.append(text)
    finally:
        del llm.eval
    total = time.perf_counter() - start
    first_s = first if first is not None else total
    return Run(first_s, total, min(sampled[0], max_tokens), "".join(parts), evals[0] - 1)


def construct(path: Path, kwargs: dict[str, Any]) -> llama_cpp.Llama:
    """A ``Llama`` with the engine's logging (llama.cpp's lines go to the log callback)."""
    with contextlib.redirect_stderr(io.StringIO()):
        llm = llama_cpp.Llama(str(path), verbose=True, **kwargs)
    llm.verbose = False
    return llm


def measure(
    runs: int = 3, max_tokens: int = 256, pred_tokens: tuple[int, ...] = (2, 5, 10)
) -> list[Line]:
    """Tokens per second of each case: plain decoding against prompt lookup with each
    ``num_pred_tokens``, ``runs`` times each, alternated."""
    settings = bench_settings(temperature=0.0, max_tokens=max_tokens)
    n_ctx = 2048
    engine, options = new_engine(settings, n_ctx)
    plain = engine._llm
    assert plain is not None and engine.info is not None
    kwargs = {
        "n_ctx": n_ctx,
        "n_batch": options.n_batch,
        "n_ubatch": options.n_ubatch,
        "n_threads": options.n_threads,
        "n_threads_batch": options.n_threads_batch,
        "flash_attn": options.flash_attn,
    }
    draft = LlamaPromptLookupDecoding(num_pred_tokens=pred_tokens[0])
    spec = construct(engine.info.path, {**kwargs, "logits_all": True, "draft_model": draft})
    prompts: dict[str, tuple[list[int], tuple[str, ...]]] = {}
    for case, text in CASES.items():
        messages: list[ChatMessage] = [
            {"role": "system", "content": settings.system_prompt},
            {"role": "user", "content": text},
        ]
        prompts[case] = engine.prompt_tokens(messages)

    strict = StrictPromptLookup(min_ngram=3, max_ngram=4, num_pred_tokens=max(pred_tokens))
    strict_name = f"k={strict.num_pred_tokens} ngram>=3"

    def variant(name: str) -> llama_cpp.Llama:
        if name == "plain":
            return plain
        spec.draft_model = {"logits_all": None, strict_name: strict}.get(name, draft)
        if spec.draft_model is draft:
            draft.num_pred_tokens = int(name[2:])
        return spec

    names = ["plain", "logits_all", *(f"k={k}" for k in pred_tokens), strict_name]
    results: dict[tuple[str, str], list[Run]] = {}
    load_before = os.getloadavg()
    generate(plain, prompts["chat"][0], prompts["chat"][1], 8)  # warm both up
    generate(variant("k=2"), prompts["chat"][0], prompts["chat"][1], 8)
    for r in range(runs):
        for case, (tokens, stop) in prompts.items():
            order = names[r % len(names) :] + names[: r % len(names)]  # rotate who goes first
            for name in order:
                results.setdefault((case, name), []).append(
                    generate(variant(name), tokens, stop, max_tokens)
                )
    load_after = os.getloadavg()
    spec.close()
    engine.close()

    lines = []
    for case, (tokens, _) in prompts.items():
        base = results[(case, "plain")]
        base_rate = statistics.median(x.rate for x in base)

        def summary(name: str, case: str = case, base: list[Run] = base) -> str:
            got = results[(case, name)]
            same = all(x.text == base[0].text for x in got)
            return (
                f"{name} {statistics.median(x.rate for x in got):.1f} tok/s "
                f"(decode {statistics.median(x.decode_rate for x in got):.1f}, first token "
                f"{statistics.median(x.first_s for x in got):.2f} s, "
                f"{sum(x.tokens for x in got) / max(1, sum(x.steps for x in got)):.2f} "
                "tokens per step"
                f"{'' if same else ', TEXT DIFFERS from plain'})"
            )

        best = max(names[2:], key=lambda n: statistics.median(x.rate for x in results[(case, n)]))
        best_rate = statistics.median(x.rate for x in results[(case, best)])
        ratio = best_rate / base_rate
        lines.append(
            Line(
                f"speculative ({case}): best {best} / plain tok/s",
                best_rate,
                base_rate,
                ratio,
                "ratio >= 1.2 to offer it",
                ratio >= 1.2,
                "tok/s",
                f"{len(tokens)} prompt tokens, {statistics.median(x.tokens for x in base):.0f} "
                f"reply tokens, medians of {runs} runs, {options.n_threads} thread(s), "
                f"load {load_before[0]:.2f}->{load_after[0]:.2f}: "
                + "; ".join(summary(n) for n in names),
            )
        )
    return lines


if __name__ == "__main__":
    for line in measure():
        print(line)
