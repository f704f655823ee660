"""Streaming as the user sees it: the real app in tmux, fed by a fake server, its screen
captured from outside the process.

    .venv/bin/python -m bench --only tmux_stream,huge_reply
    .venv/bin/python bench/tmux_stream.py [--rate 200 --chunks 1000] [--huge]

``tmux_stream``: ``ollm`` runs in a 120x40 tmux session on the model of a fake
OpenAI-compatible server (``bench/stream_server.py``, its own process on 127.0.0.1) that
streams the Markdown of ``bench/stream.py`` (``markdown_tokens``: pieces of ~4 characters,
code blocks included) at a set rate, ending in a unique marker word. A prompt is typed with
``tmux send-keys``; the pane is captured every 20 ms, and each change of the screen (less the
status line and the key bar, which show token counts) is timestamped. Between the server's
first and last piece (the stream) it reports:

- screen changes per second (goal >= 20/s), beside the capture loop's own rate, the most it
  can see;
- the longest time with no change (goal <= 100 ms), measured to the capture period;
- when the marker is on screen, from the first piece, against the stream time (goal ratio
  <= 1.05);
- the app process's CPU (user + system time, psutil) over the stream, in % of one core
  (goal <= 30 % at 200 chunks/s), beside what the capturing costs: this process with its
  ``tmux capture-pane`` children, and the tmux server (the terminal's share). On a 2-core
  machine the capture loop competes with the app, so read the figures with it.

Two rates: 2,000 chunks/s (8,000 chunks, a 4 s stream) and 200 chunks/s (1,000 chunks, 5 s).

``huge_reply``: 2 MB of the same Markdown in pieces of ~200 characters at 1,000 pieces/s (a
10 s stream). It reports the marker on screen against the stream time (goal ratio <= 1.5) and
the app's RSS growth from before the prompt to the largest sample until the end is on
screen (goal <= 200 MiB).

Each wait is capped (``TIMEOUT_S`` past the stream's own length): a miss says how long it waited.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Line
from bench.stream import markdown_tokens
from bench.tmux_screen import (
    MIB,
    StreamServer,
    TmuxApp,
    Watch,
    ollm_command,
    require_tmux,
    wait_screen,
    watch,
)

MARKER = "ZQXREPLYEND"
"""The reply's last word: the end is on screen when this is."""
TIMEOUT_S = 180.0
PROMPT = "Stream something long."


def reply_pieces(chunks: int) -> list[str]:
    """``chunks`` pieces of Markdown, the last one the marker (in a paragraph of its own)."""
    return [*markdown_tokens(chunks - 1), f"\n\nthe end {MARKER}"]


def huge_pieces(total_chars: int = 2 * 1024 * 1024, piece_chars: int = 200) -> list[str]:
    """About ``total_chars`` of Markdown in pieces of about ``piece_chars``, marker last."""
    tokens = markdown_tokens(total_chars // 3)
    pieces: list[str] = []
    current: list[str] = []
    size = total = 0
    for token in tokens:
        current.append(token)
        size += len(token)
        if size >= piece_chars:
            pieces.append("".join(current))
            total += size
            current, size = [], 0
            if total >= total_chars:
                break
    return [*pieces, f"\n\nthe end {MARKER}"]


def run_stream(pieces: list[str], rate: float, timeout: float = TIMEOUT_S) -> dict[str, float]:
    """One stream into the app in tmux; the figures as a dict (see ``measure``)."""
    require_tmux()
    with StreamServer(pieces, rate) as server, tempfile.TemporaryDirectory() as tmp:
        command = ollm_command(Path(tmp), server.url)
        with TmuxApp(command, "ollm-stream") as app:
            ready, screen = wait_screen(app, lambda s: " ready " in s, 60)
            if ready is None:
                raise RuntimeError(f"the app never showed ready:\n{screen}")
            time.sleep(0.5)  # let the first frame's work settle
            expected = len(pieces) / rate
            w = watch(
                app,
                lambda s: MARKER in s,
                timeout=expected + timeout,
                done=lambda: bool(server.replies()),
                on_start=lambda: app.send(PROMPT),
            )
            replies = server.replies()
        if not replies:
            raise RuntimeError(f"the server never finished a reply:\n{w.screen}")
        first, last, _n = replies[0]
        return figures(w, first, last)


def figures(w: Watch, first: float, last: float) -> dict[str, float]:
    """The figures of one watched stream from the server's first to its last piece."""
    stream = last - first
    end = (w.seen_at if w.seen_at is not None else w.ended) - first
    rss_before = w.samples[0][2] if w.samples else 0
    return {
        "stream_s": stream,
        "end_s": end,
        "end_seen": 1.0 if w.seen_at is not None else 0.0,
        "changes_per_s": len(w.in_window(first, last)) / stream,
        "freeze_s": w.longest_freeze(first, last),
        "app_cpu": w.cpu(first, last, 1),
        "capture_cpu": w.cpu(first, last, 3),
        "tmux_cpu": w.cpu(first, last, 4),
        "capture_rate": w.capture_rate,
        "rss_before": rss_before / MIB,
        "rss_growth": (w.max_rss() - rss_before) / MIB,
    }


def stream_lines(rate: float, chunks: int) -> list[Line]:
    """The lines of one rate: changes/s, longest freeze, end ÷ stream, and CPU at 200/s."""
    f = run_stream(reply_pieces(chunks), rate)
    tag = f"tmux stream {rate:.0f}/s"
    capture = (
        f"capture loop {f['capture_rate']:.0f} captures/s using {f['capture_cpu']:.0%} of a "
        f"core, tmux server {f['tmux_cpu']:.0%}; app CPU {f['app_cpu']:.0%} of a core"
    )
    over = "" if f["end_seen"] else f" (the end was not on screen within {f['end_s']:.0f} s)"
    lines = [
        Line(
            f"{tag}: screen changes/s",
            f["changes_per_s"],
            f["capture_rate"],
            f["changes_per_s"] / f["capture_rate"],
            "measured >= 20/s",
            f["changes_per_s"] >= 20,
            "/s",
            f"{chunks} chunks in {f['stream_s']:.2f} s; baseline: captures/s; {capture}",
        ),
        Line(
            f"{tag}: longest freeze",
            f["freeze_s"] * 1000,
            1000 / f["capture_rate"],
            f["freeze_s"] * f["capture_rate"],
            "measured <= 100 ms",
            f["freeze_s"] <= 0.100,
            "ms",
            "no screen change (less status and key bar) during the stream; "
            "baseline: the capture period",
        ),
        Line(
            f"{tag}: end on screen / stream",
            f["end_s"],
            f["stream_s"],
            f["end_s"] / f["stream_s"],
            "ratio <= 1.05",
            bool(f["end_seen"]) and f["end_s"] / f["stream_s"] <= 1.05,
            "s",
            f"first piece to the marker on screen, against first to last piece{over}",
        ),
    ]
    if rate <= 200:
        lines.append(
            Line(
                f"{tag}: UI CPU",
                f["app_cpu"] * 100,
                f["capture_cpu"] * 100,
                f["app_cpu"] / f["capture_cpu"] if f["capture_cpu"] else 0.0,
                "measured <= 30 %",
                f["app_cpu"] <= 0.30,
                "%",
                f"the app's user+system time over the stream; baseline: the capture loop's "
                f"own CPU (tmux server {f['tmux_cpu']:.0%})",
            )
        )
    return lines


def measure(quick: bool = False) -> list[Line]:
    """Both rates."""
    return stream_lines(2000, 4000 if quick else 8000) + stream_lines(200, 1000)


def huge_reply(quick: bool = False) -> list[Line]:
    """The 2 MB reply: end on screen ÷ stream time, and the RSS growth."""
    total = 512 * 1024 if quick else 2 * 1024 * 1024
    pieces = huge_pieces(total)
    rate = len(pieces) / 10.0
    f = run_stream(pieces, rate)
    over = "" if f["end_seen"] else f" (the end was not on screen within {f['end_s']:.0f} s)"
    size = sum(len(p) for p in pieces) / 1e6
    return [
        Line(
            "huge reply: end on screen / stream",
            f["end_s"],
            f["stream_s"],
            f["end_s"] / f["stream_s"],
            "ratio <= 1.5",
            bool(f["end_seen"]) and f["end_s"] / f["stream_s"] <= 1.5,
            "s",
            f"{size:.1f} MB in {len(pieces)} pieces at {rate:.0f}/s{over}; "
            f"app CPU {f['app_cpu']:.0%} of a core during the stream",
        ),
        Line(
            "huge reply: RSS growth",
            f["rss_growth"],
            f["rss_before"],
            (f["rss_before"] + f["rss_growth"]) / f["rss_before"] if f["rss_before"] else 0.0,
            "measured <= 200 MiB",
            f["rss_growth"] <= 200,
            "MiB",
            "largest RSS until the end is on screen, minus RSS before the prompt (the baseline)",
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float)
    ap.add_argument("--chunks", type=int, default=1000)
    ap.add_argument("--huge", action="store_true")
    args = ap.parse_args()
    lines = (
        huge_reply()
        if args.huge
        else stream_lines(args.rate, args.chunks)
        if args.rate
        else measure()
    )
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
