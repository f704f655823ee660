"""The arithmetic of the outside-the-process benchmarks (bench/tmux_screen.py), and the fake
server's paced replies they rely on."""

from __future__ import annotations

import httpx
import pytest

from bench.tmux_screen import Watch
from tests.fake_server import FakeServer


def watched(changes: list[float]) -> Watch:
    w = Watch(changes=changes, captures=11, started=0.0, ended=1.0)
    # time, app CPU s, RSS, own CPU s, tmux CPU s
    w.samples = [(0.0, 0.0, 100, 0.0, 0.0), (1.0, 0.5, 300, 0.25, 0.1), (2.0, 0.5, 200, 0.5, 0.1)]
    return w


def test_the_longest_freeze_counts_the_edges_of_the_window() -> None:
    w = watched([0.05, 0.2, 0.25, 0.9])
    assert w.in_window(0.1, 0.8) == [0.2, 0.25]
    assert w.longest_freeze(0.1, 0.8) == pytest.approx(0.55)  # 0.25 -> the end at 0.8
    assert w.longest_freeze(0.0, 0.3) == pytest.approx(0.15)  # 0.05 -> 0.2
    assert w.longest_freeze(0.3, 0.5) == pytest.approx(0.2)  # no change at all


def test_cpu_is_interpolated_between_samples() -> None:
    w = watched([])
    assert w.cpu(0.0, 1.0) == pytest.approx(0.5)
    assert w.cpu(0.5, 1.5) == pytest.approx(0.25)  # 0.25 -> 0.5 over one second
    assert w.cpu(0.0, 2.0, column=3) == pytest.approx(0.25)
    assert w.max_rss() == 300
    assert w.capture_rate == pytest.approx(11.0)


def test_a_paced_reply_is_whole_and_its_times_are_kept() -> None:
    with FakeServer() as server:
        server.pieces = [f"p{i} " for i in range(20)]
        server.rate = 1000.0
        with httpx.stream(
            "POST", f"{server.url}/v1/chat/completions", json={"messages": []}
        ) as response:
            body = response.read().decode()
        assert all(f'"p{i} "' in body for i in range(20))
        assert len(server.sent) == 1
        first, last, n = server.sent[0]
        assert n == 20
        assert first <= last


def test_an_unpaced_reply_keeps_no_times() -> None:
    with FakeServer() as server:
        httpx.post(f"{server.url}/v1/chat/completions", json={"messages": []})
        assert server.sent == []
