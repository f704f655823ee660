"""The chat pane keeping up: a synthetic engine streams Markdown into the headless app.

    .venv/bin/python -m bench --only stream,stall

8,000 tokens of Markdown with code blocks at 2,000 tokens/s (a 4 s stream). Measured: the
wall time from the first token to the reply fully rendered, against the stream's own
duration, and the longest event-loop stall meanwhile. The baseline, in the same run, is a
reply widget that re-renders the whole Markdown for every token (what Elia does), on the
first 300 tokens only (8,000 would take many minutes).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Line, LoopMonitor, bench_settings, wait_for
from ollm_tui.cli.chat import build_components
from ollm_tui.engine.base import CancelToken, ChatMessage, Delta, Done, GenParams, StreamEvent
from ollm_tui.session.components import Startup
from ollm_tui.store.db import Store
from ollm_tui.ui.app import make_app
from ollm_tui.ui.widgets.markdown_doc import render_markdown
from ollm_tui.ui.widgets.transcript import ReplyEntry
from tests.fakes import FakeEngine

MODEL = Path("/models/synthetic.gguf")
WORDS = [
    "the",
    "model",
    "streams",
    "tokens",
    "into",
    "the",
    "pane",
    "while",
    "the",
    "loop",
    "stays",
    "free",
    "to",
    "draw",
]


def markdown_tokens(n: int, seed: int = 1) -> list[str]:
    """``n`` token-sized pieces of Markdown: headings, paragraphs, lists and code blocks."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        kind = rng.choice(["para", "para", "list", "code", "heading"])
        if kind == "heading":
            out += ["\n\n## ", rng.choice(WORDS).title(), " ", rng.choice(WORDS), "\n\n"]
        elif kind == "para":
            out += [(" " if i else "") + rng.choice(WORDS) for i in range(rng.randint(20, 60))]
            out.append("\n\n")
        elif kind == "list":
            for _ in range(rng.randint(2, 5)):
                out += ["- ", "**", rng.choice(WORDS), "**", " ", rng.choice(WORDS), "\n"]
            out.append("\n")
        else:
            out += ["```", "python", "\n"]
            for i in range(rng.randint(3, 12)):
                out += [
                    "def",
                    " f",
                    str(i),
                    "(",
                    "x",
                    "):",
                    "\n",
                    "    ",
                    "return",
                    " x",
                    " *",
                    f" {i}",
                    "\n",
                ]
            out += ["```", "\n\n"]
    return out[:n]


class SyntheticEngine(FakeEngine):
    """Streams pre-made tokens at a fixed rate, like a fast model (no inference)."""

    def __init__(self, tokens: list[str], rate: float) -> None:
        super().__init__()
        self.tokens = tokens
        self.rate = rate
        self.first_at = 0.0
        """When the first token was sent (``perf_counter``)."""
        self.last_at = 0.0

    def stream(
        self, messages: Sequence[ChatMessage], params: GenParams, cancel: CancelToken
    ) -> Iterator[StreamEvent]:
        start = time.perf_counter()
        self.first_at = start
        for i, token in enumerate(self.tokens):
            target = start + i / self.rate
            now = time.perf_counter()
            if now < target:
                time.sleep(target - now)
            yield Delta(token)
        self.last_at = time.perf_counter()
        total = self.last_at - start
        yield Done(
            prompt_tokens=10,
            completion_tokens=len(self.tokens),
            ttft_s=0.0,
            tokens_per_s=len(self.tokens) / total,
            total_s=total,
            finish_reason="stop",
        )


def naive_drain(self: ReplyEntry) -> bool:
    """The baseline: one full Markdown re-render of the whole reply per token."""
    buffer = self.buffer
    if buffer is None or not self.streaming:
        return False
    with buffer._lock:
        parts = list(buffer._parts)
        buffer._parts.clear()
    for part in parts:
        self._streamed.append(part)
        render_markdown("".join(self._streamed), 100)
    if parts:
        self.doc.append("".join(parts))
        self.touch()
    return bool(parts)


async def run_stream(n_tokens: int, rate: float, naive: bool) -> tuple[float, float, float]:
    """(wall time first token -> rendered, stream duration, worst loop stall) in seconds."""
    settings = bench_settings()
    store = Store(settings.db_path)
    engine = SyntheticEngine(markdown_tokens(n_tokens), rate)
    app = make_app(build_components(settings, store, engine), Startup(MODEL))
    saved = ReplyEntry.drain
    if naive:
        ReplyEntry.drain = naive_drain  # type: ignore[method-assign]
    monitor = LoopMonitor()
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.load_state == "ready", 10, "the model")
            app.composer.load_text("Stream something long.")
            monitor.start()
            app.composer.action_submit()  # (pilot.press would wait for the naive widget)
            await wait_for(
                pilot,
                lambda: (
                    engine.last_at
                    and app.turn is None
                    and app.transcript.last_reply().status == "complete"
                ),
                600,
                "the reply",
            )
            done_at = time.perf_counter()
            monitor.stop()
            reply = app.transcript.last_reply()
            assert reply is not None and reply.text == "".join(engine.tokens)
    finally:
        ReplyEntry.drain = saved  # type: ignore[method-assign]
        store.close()
    return done_at - engine.first_at, engine.last_at - engine.first_at, monitor.worst


def measure(n_tokens: int = 8000, rate: float = 2000.0, baseline_tokens: int = 300) -> list[Line]:
    """The two table lines: wall/stream ratio and the longest stall, each with its baseline."""
    wall, duration, stall = asyncio.run(run_stream(n_tokens, rate, naive=False))
    b_wall, b_duration, b_stall = asyncio.run(run_stream(baseline_tokens, rate, naive=True))
    ratio, b_ratio = wall / duration, b_wall / b_duration
    return [
        Line(
            "stream: wall / stream time",
            ratio,
            b_ratio,
            ratio / b_ratio,
            "measured <= 1.10",
            ratio <= 1.10,
            "x",
            f"{n_tokens} tokens at {rate:.0f}/s: {wall:.2f} s for a {duration:.2f} s stream; "
            f"baseline re-renders per token ({baseline_tokens} tokens): "
            f"{b_wall:.2f} s for {b_duration:.2f} s",
        ),
        Line(
            "stream: longest loop stall",
            stall * 1000,
            b_stall * 1000,
            stall / b_stall if b_stall else 0.0,
            "measured <= 100 ms",
            stall <= 0.100,
            "ms",
            "baseline: per-token full re-render",
        ),
    ]


if __name__ == "__main__":
    for line in measure():
        print(line)
