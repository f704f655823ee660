"""Watching the real app from outside its process: ``ollm`` in tmux, its screen captured.

The helpers of ``tmux_stream`` and ``big_chats``: a fake OpenAI-compatible server in its own
process (``bench/stream_server.py``) that the app uses as its model, so that no model is
loaded; the app started in a detached 120x40 tmux session with its own data, config and log
folders; and a loop that captures the pane (``tmux capture-pane -p``) every ``period``
seconds, timestamps each change of the screen and samples the app's CPU time and RSS
(psutil) beside it. Nothing here reads the app's widgets: what is measured is what a user
would see in a terminal.

Clocks: ``time.monotonic`` everywhere (one clock for every process on Linux), so the
server's times of its first and last piece and the captures' times can be compared.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.first_frame import OLLM, isolated_env, new_tmux_session
from tests.fake_server import MODEL

MIB = 1024**2
SIZE = (120, 40)
BOTTOM_ROWS = 2
"""The status line and the key bar: they change during a stream (token counts) even when
the transcript stands still, so the change detection leaves them out."""


def require_tmux() -> None:
    """SystemExit (the suite reports it) when tmux is missing."""
    if not shutil.which("tmux"):
        raise SystemExit("tmux is needed for this benchmark (apt-get install tmux)")


class StreamServer:
    """``bench/stream_server.py`` in a subprocess; a context manager."""

    def __init__(self, pieces: list[str], rate: float) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ollm-bench-server-"))
        (self.folder / "pieces.json").write_text(json.dumps(pieces))
        self.times_path = self.folder / "times.json"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "stream_server.py"),
                str(self.folder / "pieces.json"),
                str(rate),
                str(self.times_path),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.close()
            raise RuntimeError("the fake server did not start")

    def replies(self) -> list[tuple[float, float, int]]:
        """(first piece, last piece, pieces) of each reply sent so far."""
        try:
            return [tuple(r) for r in json.loads(self.times_path.read_text())]  # type: ignore[misc]
        except (OSError, ValueError):
            return []

    def close(self) -> None:
        """Stop the server and remove its folder."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> StreamServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def app_env(tmp: Path) -> str:
    """``env`` arguments: the app's own folders under ``tmp``, no scan of other apps' models."""
    return f"{isolated_env(str(tmp))} OLLM_SCAN_EXTERNAL=0"


def data_dir(tmp: Path) -> Path:
    """Where the app started with ``app_env(tmp)`` keeps its database."""
    return tmp / "data"


def ollm_command(tmp: Path, url: str) -> str:
    """The app on the fake server's model, with a 1M-token context (no compression gets in the way
    of a long reply or chat)."""
    return f"env {app_env(tmp)} {OLLM} --server {url} --model {MODEL} --context 1048576"


class TmuxApp:
    """A command in a detached tmux session; a context manager that kills the session."""

    def __init__(self, command: str, name: str) -> None:
        self.session = f"{name}-{os.getpid()}-{time.time_ns()}"
        self.started = new_tmux_session(self.session, command, SIZE, time.monotonic)
        self._pid: int | None = None

    def capture(self) -> str:
        """The pane's text now."""
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.session],
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    def send(self, text: str) -> None:
        """Type ``text`` and press Enter."""
        subprocess.run(["tmux", "send-keys", "-t", self.session, "-l", text], check=True)
        subprocess.run(["tmux", "send-keys", "-t", self.session, "Enter"], check=True)

    def pid(self) -> int:
        """The app's process (the biggest Python process in the pane)."""
        if self._pid is None:
            from bench.app_start import _app_pid

            self._pid = _app_pid(self.session)
        return self._pid

    def server_pid(self) -> int | None:
        """The tmux server's process (it parses the app's output: the terminal's cost)."""
        out = subprocess.run(
            ["tmux", "display-message", "-p", "-t", self.session, "#{pid}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        return int(out) if out.isdigit() else None

    def alive(self) -> bool:
        """Whether the session (so the command) still runs."""
        return (
            subprocess.run(
                ["tmux", "has-session", "-t", self.session], capture_output=True, check=False
            ).returncode
            == 0
        )

    def close(self) -> None:
        """Kill the session (and the app in it)."""
        subprocess.run(
            ["tmux", "kill-session", "-t", self.session], capture_output=True, check=False
        )

    def __enter__(self) -> TmuxApp:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def wait_screen(
    app: TmuxApp, predicate: Callable[[str], bool], timeout: float, period: float = 0.01
) -> tuple[float | None, str]:
    """Seconds from the app's launch until ``predicate(screen)`` held (None: not within
    ``timeout``), and the last screen."""
    screen = ""
    while time.monotonic() - app.started < timeout:
        screen = app.capture()
        if predicate(screen):
            return time.monotonic() - app.started, screen
        if not screen and not app.alive():
            break
        time.sleep(period)
    return None, screen


@dataclass
class Watch:
    """What a capture loop saw."""

    changes: list[float] = field(default_factory=list)
    """When the screen (less its bottom rows) changed, monotonic seconds."""
    captures: int = 0
    started: float = 0.0
    ended: float = 0.0
    seen_at: float | None = None
    """When the ``until`` predicate first held."""
    samples: list[tuple[float, float, int, float, float]] = field(default_factory=list)
    """(time, the app's CPU seconds, its RSS, this process's and its children's CPU
    seconds, the tmux server's CPU seconds) per capture."""
    screen: str = ""

    @property
    def capture_rate(self) -> float:
        """Captures per second."""
        return self.captures / max(self.ended - self.started, 1e-9)

    def cpu(self, start: float, end: float, column: int = 1) -> float:
        """CPU seconds per second (1.0: one core) of a sampled column between two times."""
        return (_at(self.samples, end, column) - _at(self.samples, start, column)) / max(
            end - start, 1e-9
        )

    def max_rss(self) -> int:
        """The largest RSS sampled."""
        return max((s[2] for s in self.samples), default=0)

    def in_window(self, start: float, end: float) -> list[float]:
        """The changes between two times."""
        return [t for t in self.changes if start < t <= end]

    def longest_freeze(self, start: float, end: float) -> float:
        """The longest time with no change between two times (their edges count)."""
        marks = [start, *self.in_window(start, end), end]
        return max(b - a for a, b in itertools.pairwise(marks))


def _at(samples: list[tuple[float, float, int, float, float]], t: float, column: int) -> float:
    """A sampled column at time ``t``, interpolated linearly."""
    if not samples:
        return 0.0
    if t <= samples[0][0]:
        return float(samples[0][column])
    for a, b in itertools.pairwise(samples):
        if a[0] <= t <= b[0]:
            span = b[0] - a[0]
            w = (t - a[0]) / span if span else 0.0
            return float(a[column]) + w * (float(b[column]) - float(a[column]))
    return float(samples[-1][column])


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def watch(
    app: TmuxApp,
    until: Callable[[str], bool],
    timeout: float,
    period: float = 0.02,
    done: Callable[[], bool] = lambda: True,
    on_start: Callable[[], Any] | None = None,
) -> Watch:
    """Capture every ``period`` s until ``until(screen)`` and ``done()`` hold, or
    ``timeout`` s pass; ``on_start`` runs after the first capture (e.g. typing a prompt)."""
    import psutil

    proc = psutil.Process(app.pid())
    tmux_pid = app.server_pid()
    tmux = psutil.Process(tmux_pid) if tmux_pid else None
    w = Watch(started=time.monotonic())
    last = None
    deadline = w.started + timeout
    while True:
        now = time.monotonic()
        screen = app.capture()
        w.captures += 1
        body = "\n".join(screen.splitlines()[:-BOTTOM_ROWS])
        with contextlib.suppress(psutil.Error):
            cpu = proc.cpu_times()
            tmux_cpu = tmux.cpu_times() if tmux else None
            w.samples.append(
                (
                    now,
                    cpu.user + cpu.system,
                    proc.memory_info().rss,
                    _own_cpu(),
                    tmux_cpu.user + tmux_cpu.system if tmux_cpu else 0.0,
                )
            )
        if last is not None and body != last:
            w.changes.append(now)
        last = body
        if on_start is not None and w.captures == 1:
            on_start()
        if w.seen_at is None and until(screen):
            w.seen_at = now
        w.screen = screen
        if (w.seen_at is not None and done()) or now > deadline:
            break
        pause = now + period - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    w.ended = time.monotonic()
    return w
