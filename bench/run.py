"""The benchmark suite in one command: every measurement, a table, and a JSON file.

    .venv/bin/python -m bench [--only NAME,...] [--json PATH] [--quick]

Each line is measured side by side with its baseline in the same run (the machine may be
shared: compare ratios, not absolute times). Names: stream, pipeline, turn20, reopen,
speculative, first_frame, many_chats_start, idle_rss, and, watched from outside the process
(the app in tmux on a fake server; tmux needed): tmux_stream, huge_reply, big_chat,
many_chats. Results go to ``bench/results/<date>.json`` unless ``--json`` says otherwise;
record notable runs in ``bench/RESULTS.md``. Nothing here is a unit test: the suite
reports, it does not assert.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Line


def _stream(quick: bool) -> list[Line]:
    from bench import stream

    return stream.measure(baseline_tokens=150 if quick else 300)


def _pipeline(quick: bool) -> list[Line]:
    from bench import model

    return [model.pipeline(rounds=1 if quick else 3)]


def _turn20(quick: bool) -> list[Line]:
    from bench import model

    return model.turn20()


def _reopen(quick: bool) -> list[Line]:
    from bench import model

    return model.reopen()


def _speculative(quick: bool) -> list[Line]:
    from bench import speculative

    return speculative.measure(runs=1 if quick else 3)


def _first_frame(quick: bool) -> list[Line]:
    from bench import app_start

    return [app_start.first_frame_line(3 if quick else 7)]


def _many_chats_start(quick: bool) -> list[Line]:
    from bench import many_chats

    return many_chats.measure(3 if quick else 7)


def _idle_rss(quick: bool) -> list[Line]:
    from bench import app_start

    return [app_start.idle_rss()]


def _tmux_stream(quick: bool) -> list[Line]:
    from bench import tmux_stream

    return tmux_stream.measure(quick)


def _huge_reply(quick: bool) -> list[Line]:
    from bench import tmux_stream

    return tmux_stream.huge_reply(quick)


def _big_chat(quick: bool) -> list[Line]:
    from bench import big_chats

    return big_chats.big_chat(501 if quick else 5000)


def _many_chats(quick: bool) -> list[Line]:
    from bench import big_chats

    return big_chats.many_chats(runs=1 if quick else 5)


SUITE: dict[str, Callable[[bool], list[Line]]] = {
    "pipeline": _pipeline,
    "stream": _stream,
    "turn20": _turn20,
    "reopen": _reopen,
    "speculative": _speculative,
    "first_frame": _first_frame,
    "many_chats_start": _many_chats_start,
    "idle_rss": _idle_rss,
    "tmux_stream": _tmux_stream,
    "huge_reply": _huge_reply,
    "big_chat": _big_chat,
    "many_chats": _many_chats,
}


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    from ollm_tui.settings import default_threads, usable_cores

    try:
        import psutil

        ram = round(psutil.virtual_memory().total / 2**30, 1)
        load = [round(x, 2) for x in os.getloadavg()]
    except (ImportError, OSError):
        ram, load = None, None
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpu": cpu,
        "usable_cores": usable_cores(),
        "threads": default_threads(),
        "ram_gib": ram,
        "load_average": load,
        "python": platform.python_version(),
    }


def table(lines: list[Line]) -> str:
    """The results as a fixed-width table."""
    rows = [("name", "measured", "baseline", "ratio", "goal", "result")]
    for line in lines:
        rows.append(
            (
                line.name,
                f"{line.measured:.3g} {line.unit}".strip(),
                f"{line.baseline:.3g} {line.unit}".strip(),
                f"{line.ratio:.3g}",
                line.goal,
                "pass" if line.passed else "MISS",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated measurements: " + ", ".join(SUITE))
    parser.add_argument(
        "--json", type=Path, help="where to write the results (default bench/results/<date>.json)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(SUITE)
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(unknown)} (known: {', '.join(SUITE)})")
    started = dt.datetime.now(dt.UTC)
    lines: list[Line] = []
    seconds: dict[str, float] = {}
    errors: dict[str, str] = {}
    for name in names:
        print(f"running {name}…", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            lines += SUITE[name](args.quick)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - report it, run the rest
            errors[name] = f"{type(exc).__name__}: {exc}"
            print(f"{name} failed: {errors[name]}", file=sys.stderr)
        seconds[name] = round(time.perf_counter() - start, 1)
    print(table(lines))
    for line in lines:
        if line.note:
            print(f"- {line.name}: {line.note}")
    path = args.json or ROOT / "bench" / "results" / f"{started:%Y-%m-%d-%H%M}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "date": started.isoformat(timespec="seconds"),
                "machine": machine(),
                "quick": args.quick,
                "seconds": seconds,
                "errors": errors,
                "results": [line.as_dict() for line in lines],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results written to {path}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
