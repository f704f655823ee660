"""The transcript's Markdown renderer keeping up with a very long reply (issue 17).

    .venv/bin/python -m bench.markdown_doc

A 2 MB Markdown reply (``bench.stream.markdown_tokens``: headings, paragraphs, lists, code;
~4 chars a token) is appended to a ``MarkdownDoc`` token by token, with ``lines(100)``
after every 2,000 tokens (a frame). Measured: the time of a frame near the start against
one near the end (the work per frame must not grow with the reply), the total, and the
tracemalloc peak of rendering the whole 2 MB. The baseline, in the same run, re-renders the
whole text with Rich's ``Markdown`` at the same frames, over the first 100 KB only.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.markdown import Markdown

from bench.common import Line
from ollm_tui.ui.widgets.markdown_doc import CONSOLE, MarkdownDoc

FRAME = 2000
"""Tokens appended between two frames."""


def tokens_of(size: int) -> list[str]:
    """Tokens of ``bench/stream.py``'s generator adding up to ``size`` chars."""
    from bench.stream import markdown_tokens  # (imports the app: only when measuring)

    tokens = markdown_tokens(size // 3)
    total, out = 0, []
    for token in tokens:
        out.append(token)
        total += len(token)
        if total >= size:
            break
    return out


def stream_frames(tokens: list[str], width: int = 100) -> list[float]:
    """Seconds of each frame: its 2,000 appends and the ``lines(width)`` call."""
    doc, times = MarkdownDoc(), []
    for start in range(0, len(tokens), FRAME):
        began = time.perf_counter()
        for token in tokens[start : start + FRAME]:
            doc.append(token)
        doc.lines(width)
        times.append(time.perf_counter() - began)
    return times


def baseline_frames(tokens: list[str], limit: int, width: int = 100) -> list[float]:
    """The same frames, each rendering the whole text so far with Rich (up to ``limit``)."""
    text, times = "", []
    options = CONSOLE.options.update_width(width)
    for start in range(0, len(tokens), FRAME):
        began = time.perf_counter()
        text += "".join(tokens[start : start + FRAME])
        CONSOLE.render_lines(Markdown(text, hyperlinks=False), options)
        times.append(time.perf_counter() - began)
        if len(text) >= limit:
            break
    return times


def peak_mib(text: str, width: int = 100) -> tuple[float, float]:
    """(tracemalloc peak, what the rendered document keeps) in MiB, rendering ``text``."""
    tracemalloc.start()
    doc = MarkdownDoc(text)
    doc.lines(width)
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del doc
    return peak / 2**20, kept / 2**20


def measure(size: int = 2_000_000, baseline_size: int = 100_000) -> list[Line]:
    """Frame time end/start, the total, peak memory, and a new width on 100 KB."""
    tokens = tokens_of(size)
    text = "".join(tokens)
    frames = stream_frames(tokens)
    tenth = max(1, len(frames) // 10)
    early = statistics.median(frames[1 : 1 + tenth])  # (the first frame loads lexers)
    late = statistics.median(frames[-tenth - 1 : -1])  # (the last frame may be short)
    base = baseline_frames(tokens, baseline_size)
    b_tenth = max(1, len(base) // 10)
    b_early = statistics.median(base[1 : 1 + b_tenth])
    b_late = statistics.median(base[-b_tenth:])
    peak, kept = peak_mib(text)

    small = text[:baseline_size]
    doc = MarkdownDoc(small)
    doc.lines(100)
    began = time.perf_counter()
    doc.lines(80)
    new_width = time.perf_counter() - began
    began = time.perf_counter()
    for _ in range(100):
        doc.height(80)
    cached = (time.perf_counter() - began) / 100
    began = time.perf_counter()
    whole = CONSOLE.render_lines(
        Markdown(small, hyperlinks=False), CONSOLE.options.update_width(80)
    )
    rich_once = time.perf_counter() - began

    return [
        Line(
            "markdown_doc: frame time end / start",
            late / early,
            b_late / b_early,
            (late / early) / (b_late / b_early),
            "measured <= 1.5",
            late / early <= 1.5,
            "x",
            f"{len(frames)} frames of {FRAME} tokens over {len(text) / 1e6:.1f} MB: "
            f"{early * 1e3:.1f} ms near the start, {late * 1e3:.1f} ms near the end; "
            f"baseline (Rich re-renders all, first {baseline_size // 1000} KB): "
            f"{b_early * 1e3:.1f} -> {b_late * 1e3:.1f} ms",
        ),
        Line(
            "markdown_doc: 2 MB stream total",
            sum(frames),
            sum(base),
            sum(frames) / sum(base),
            "measured <= 120 s",
            sum(frames) <= 120,
            "s",
            f"baseline: {len(base)} frames up to {baseline_size // 1000} KB only",
        ),
        Line(
            "markdown_doc: 2 MB peak memory",
            peak,
            150.0,
            peak / 150.0,
            "measured <= 150 MiB",
            peak <= 150,
            "MiB",
            f"tracemalloc, one render of the whole text; {kept:.0f} MiB kept after",
        ),
        Line(
            "markdown_doc: 100 KB at a new width",
            new_width,
            rich_once,
            new_width / rich_once,
            "ratio <= 1.5",
            new_width <= 1.5 * rich_once,
            "s",
            f"{len(doc.lines(80))} lines; height() at the cached width {cached * 1e3:.2f} ms; "
            f"baseline: one Rich render of the whole 100 KB ({len(whole)} lines)",
        ),
    ]


def main() -> int:
    """Print the lines."""
    for line in measure():
        mark = "ok  " if line.passed else "FAIL"
        print(
            f"{mark} {line.name}: {line.measured:.3f} {line.unit} "
            f"(baseline {line.baseline:.3f}, ratio {line.ratio:.2f}; {line.goal}) {line.note}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
