"""What every benchmark line reports, and helpers shared by the measurements."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ollm_tui.settings import Settings, default_threads


@dataclass
class Line:
    """One row of the results table."""

    name: str
    measured: float
    baseline: float
    ratio: float
    goal: str
    """The goal as text, e.g. ``ratio <= 1.10`` or ``measured <= 0.5 s``."""
    passed: bool
    unit: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """For the JSON file."""
        return asdict(self)


def bench_settings(root: Path | None = None, **changes: Any) -> Settings:
    """Settings in a throwaway folder (no config file of the user's is read)."""
    root = root or Path(tempfile.mkdtemp(prefix="ollm-bench-"))
    threads = default_threads()
    return Settings(
        data_dir=root / "data",
        config_dir=root / "config",
        log_dir=root / "logs",
        n_threads=threads,
        n_threads_batch=threads,
    ).with_(**changes)


class LoopMonitor:
    """Measures how late the event loop runs a 5 ms sleep: the longest stall it saw."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.period)
            self.worst = max(self.worst, time.perf_counter() - start - self.period)

    def start(self) -> None:
        """Start watching (call inside the running loop)."""
        self.worst = 0.0
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        """Stop watching."""
        if self._task is not None:
            self._task.cancel()


async def wait_for(
    pilot: Any,
    predicate: Callable[[], object],
    timeout: float,  # noqa: ASYNC109  a polling deadline whose error names `what`; asyncio.timeout would change that
    what: str,
) -> None:
    """Let the app run until ``predicate()`` holds (RuntimeError after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)
