"""2,000 chats in the database: starting the app, and switching chats, in-process (headless).

    .venv/bin/python -m bench --only many_chats_start

Each launch opens its own copy of a seeded database (every chat has a user message and a
reply; the most recent is the one opened), builds the app the way the composition root
does, and runs it headless at 120x40 until the most recent chat is open and the chat list
holds every chat and has laid them out (its virtual height covers them all: set where it
draws), from opening the store. The baseline, measured the same way and
alternated with it, is the same launch with one chat in the database. The switch line
times choosing another chat in the list (Enter) until it is open and marked in the list,
with 2,000 chats against 2. This is not the tmux first-frame line (``first_frame``): it
measures what the number of chats adds, in the app's own loop.

The lines report the process's CPU time (medians): a headless start is CPU-bound, and its
wall time on a shared machine varies by 2-4x from run to run (Textual's timers, other
processes), which would hide what 2,000 chats add. Wall-time medians are in the notes.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Line, bench_settings, wait_for
from ollm_tui.cli.chat import build_components
from ollm_tui.session.components import Startup
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.app import make_app
from tests.fakes import FakeEngine

MODEL = Path("/models/synthetic.gguf")
MANY = 2000


def seed(path: Path, chats: int) -> None:
    """A database at ``path`` with ``chats`` chats of two messages each."""
    store = Store(path)
    try:
        with store.transaction() as db:
            for i in range(chats):
                now = 1_700_000_000.0 + i
                cur = db.execute(
                    "INSERT INTO chats (title, created_at, updated_at, model) "
                    "VALUES (?, ?, ?, NULL)",
                    (f"Chat number {i}: a question about topic {i % 97}", now, now),
                )
                chat_id = cur.lastrowid
                for seq, (role, text) in enumerate(
                    (("user", f"question {i}"), ("assistant", f"answer {i}")), start=1
                ):
                    db.execute(
                        "INSERT INTO messages (chat_id, seq, role, content, created_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (chat_id, seq, role, text, now),
                    )
    finally:
        store.close()


def _copy(seeded: Path, settings: Settings) -> None:
    settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(seeded, settings.db_path)


Times = tuple[float, float]
"""(wall seconds, CPU seconds)."""


def _since(wall: float, cpu: float) -> Times:
    return time.perf_counter() - wall, time.process_time() - cpu


async def _launch(seeded: Path, chats: int, switch: bool) -> tuple[Times, Times | None]:
    """Time from opening the store to the chat open with the full list; and, with
    ``switch``, time to open the second most recent chat from the list."""
    settings = bench_settings()
    _copy(seeded, settings)
    gc.collect()  # the last launch's garbage is not this one's to collect
    start, start_cpu = time.perf_counter(), time.process_time()
    store = Store(settings.db_path)
    app = make_app(build_components(settings, store, FakeEngine()), Startup(MODEL))
    switched: Times | None = None
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(
                pilot,
                lambda: (
                    app.chat_screen.session is not None
                    and len(app.chat_list.chats) == chats
                    and app.chat_list.option_count == chats
                    # laid out: every option measured (set where the list is drawn)
                    and app.chat_list.virtual_size.height >= chats
                    and len(app.transcript.views()) == 2
                ),
                60,
                "the chat to open",
            )
            started = _since(start, start_cpu)
            # (not timed) a model still loading when the app exits would race the teardown
            await wait_for(pilot, lambda: app.load_state == "ready", 60, "the model")
            if switch:
                target = app.chat_list.chats[1].id
                app.chat_list.focus()
                await pilot.pause()
                app.chat_list.highlighted = 1
                begin, begin_cpu = time.perf_counter(), time.process_time()
                await pilot.press("enter")
                await wait_for(
                    pilot,
                    lambda: (
                        app.chat.id == target
                        and app.chat_list.open_chat_id == target
                        and len(app.transcript.views()) == 2
                    ),
                    60,
                    "the switch",
                )
                switched = _since(begin, begin_cpu)
    finally:
        store.close()
        shutil.rmtree(settings.data_dir.parent, ignore_errors=True)
    return started, switched


def _median(times: list[Times], which: int) -> float:
    return statistics.median(t[which] for t in times)


def measure(runs: int = 5) -> list[Line]:
    """Start with 2,000 chats against 1; a switch with 2,000 chats against 2."""
    tmp = Path(tempfile.mkdtemp(prefix="ollm-many-chats-"))
    try:
        dbs = {n: tmp / f"{n}.db" for n in (1, 2, MANY)}
        for n, path in dbs.items():
            seed(path, n)
        asyncio.run(_launch(dbs[MANY], MANY, True))  # warm-up: imports, caches
        start_many: list[Times] = []
        start_one: list[Times] = []
        switch_many: list[Times] = []
        switch_two: list[Times] = []
        for _ in range(runs):  # alternate, so both see the same machine load
            started, switched = asyncio.run(_launch(dbs[MANY], MANY, True))
            start_many.append(started)
            switch_many.append(switched or (0.0, 0.0))
            start_one.append(asyncio.run(_launch(dbs[1], 1, False))[0])
            switch_two.append(asyncio.run(_launch(dbs[2], 2, True))[1] or (0.0, 0.0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = []
    for name, many, few, what in (
        (
            "start with 2,000 chats / 1 chat",
            start_many,
            start_one,
            "store opened to chat open with the full list",
        ),
        (
            "chat switch, 2,000 chats / 2 chats",
            switch_many,
            switch_two,
            "Enter in the chat list to the other chat open, list redrawn",
        ),
    ):
        cpu, base = _median(many, 1), _median(few, 1)
        lines.append(
            Line(
                name,
                cpu,
                base,
                cpu / base,
                "ratio <= 1.2",
                cpu / base <= 1.2,
                "CPU s",
                f"median of {runs}, headless 120x40, {what}; wall "
                f"{_median(many, 0):.3f} s / {_median(few, 0):.3f} s",
            )
        )
    return lines


if __name__ == "__main__":
    for line in measure(3):
        print(line)
