"""The context meter, the 70 % warning and the token-stats view, through the app.

The fake engine's tokenizer (``tests/fakes.py``'s ``FakeCodec``) counts like the fake engine
does, so "exact" here means equal to what the engine reports; the real models are covered
by ``tests/integration/test_app_tokens_real.py``.
"""

from __future__ import annotations

import threading

from ollm_tui.session.context import ContextManager
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.screens.token_stats import TokenStatsScreen
from ollm_tui.ui.widgets.context_meter import ContextMeter
from tests.app.helpers import make_test_app, rendered_text, send, wait_ready, wait_until
from tests.fakes import FakeEngine


def meter(app) -> ContextMeter:
    return app.status_line.meter


def prompt_tokens(app, engine: FakeEngine) -> int:
    session = app.session
    return engine.count_prompt_tokens(session.engine_messages(session.history()))


async def test_meter_is_exact_after_each_turn(settings: Settings, store: Store):
    engine = FakeEngine(reply="one two three")
    app, _ = make_test_app(settings, store, engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: app.context.counts >= 1, what="the first count", timeout=30)
        system = engine.count_prompt_tokens([{"role": "system", "content": settings.system_prompt}])
        usage = meter(app).exact
        assert usage is not None and usage.used == 0 and usage.budget.system == system
        assert usage.budget.available == 4096 - system - 1024
        for n, text in enumerate(["hello there", "and a second message"], start=1):
            await send(pilot, text)
            await wait_until(
                pilot, lambda n=n: app.turn is None and app.context.counts >= n + 1, timeout=30
            )
            usage = meter(app).exact
            assert usage is not None and usage.exact
            assert usage.used + system == prompt_tokens(app, engine)
            assert app.context.last is not None
            assert app.context.last.breakdown.total == prompt_tokens(app, engine)
        assert meter(app).text.startswith(f"{usage.used}/{usage.budget.available:,} tok")
        assert "-low" in meter(app).classes
        assert meter(app).text in rendered_text(app.status_line)


async def test_typing_adds_an_estimate_and_streaming_counts_the_reply(
    settings: Settings, store: Store
):
    engine = FakeEngine(reply=" ".join(f"w{i}" for i in range(200)), delay_s=0.02)
    app, _ = make_test_app(settings, store, engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: app.context.counts >= 1, timeout=30)
        base = meter(app).exact.used  # type: ignore[union-attr]
        app.composer.focus()
        await pilot.press(*"some words typed")
        await wait_until(
            pilot, lambda: meter(app).typing > 0, what="the typing estimate", timeout=30
        )
        assert meter(app).text.startswith("~")
        assert meter(app).usage.used == base + meter(app).typing  # type: ignore[union-attr]
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: meter(app).inflight > 20, what="streamed tokens", timeout=30
        )
        assert meter(app).typing == 0  # the composer was cleared
        await wait_until(pilot, lambda: app.turn is None, timeout=15)
        await wait_until(
            pilot, lambda: meter(app).inflight == 0 and meter(app).usage.exact, timeout=30
        )  # type: ignore[union-attr]


async def test_one_warning_per_chat_at_70_percent_and_red_above_80(
    settings: Settings, store: Store
):
    settings = settings.with_(context_size=400)
    engine = FakeEngine(reply="ok")
    app, notes = make_test_app(settings, store, engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: app.context.counts >= 1, timeout=30)
        budget = 400 - 15 - 100  # system prompt: 11 words + 4; reserve: a quarter
        await send(pilot, " ".join(["word"] * int(budget * 0.5)))
        await wait_until(pilot, lambda: app.turn is None and app.context.counts >= 2, timeout=30)
        assert not notes.has("context budget")
        await send(pilot, " ".join(["word"] * int(budget * 0.3)))
        await wait_until(pilot, lambda: app.turn is None and app.context.counts >= 3, timeout=30)
        assert notes.has("of its context budget", "warning")
        assert "-high" in meter(app).classes and meter(app).usage.percent > 80  # type: ignore[union-attr]
        await send(pilot, "more")
        await wait_until(pilot, lambda: app.turn is None and app.context.counts >= 4, timeout=30)
        assert len([m for m in notes.messages() if "context budget" in m]) == 1


async def test_token_stats_view_opens_by_key_and_palette(settings: Settings, store: Store):
    app, _ = make_test_app(settings, store, FakeEngine(reply="fine"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: app.context.counts >= 1, timeout=30)
        await send(pilot, "count me")
        await wait_until(pilot, lambda: app.turn is None and app.context.counts >= 2, timeout=30)
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, TokenStatsScreen), timeout=30)
        text = "\n".join(app.screen.lines)  # type: ignore[attr-defined]
        assert "budget           =" in text and "memory hits" in text and "misses" in text
        assert "hit rate" in text and "time saved" in text and "on disk" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TokenStatsScreen), timeout=30)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"token stats")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, TokenStatsScreen),
            what="context: Token stats",
            timeout=30,
        )


async def test_long_texts_and_exact_counts_are_counted_off_the_ui_thread(
    settings: Settings, store: Store, monkeypatch
):
    app, _ = make_test_app(settings, store, FakeEngine(reply="ok"))
    threads: dict[str, set[str]] = {"estimate": set(), "measure": set()}
    estimate, measure = app.accounting.estimate, ContextManager.measure

    def spy_estimate(text):
        if len(text) > 10_000:
            threads["estimate"].add(threading.current_thread().name)
        return estimate(text)

    def spy_measure(*args, **kwargs):
        threads["measure"].add(threading.current_thread().name)
        return measure(*args, **kwargs)

    app.accounting.estimate = spy_estimate  # type: ignore[method-assign]
    monkeypatch.setattr(ContextManager, "measure", spy_measure)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: app.context.counts >= 1, timeout=30)
        app.composer.load_text("lorem ipsum dolor " * 5_000)  # a 90,000-character paste
        await wait_until(pilot, lambda: meter(app).typing > 10_000, timeout=30)
    main = threading.main_thread().name
    assert threads["estimate"] and main not in threads["estimate"]
    assert threads["measure"] and main not in threads["measure"]


def test_the_ui_thread_never_loads_tiktoken(monkeypatch) -> None:
    """tiktoken loads lazily (0.2 s or more): until it is in memory, estimates run in a
    worker, never on the event loop."""
    import ollm_tui.core.token_estimate as te
    from ollm_tui.ui.context_watch import ContextWatch

    monkeypatch.setattr(te, "_encoding", None)
    assert not ContextWatch._inline("short text")
    monkeypatch.setattr(te, "_encoding", object())
    assert ContextWatch._inline("short text")
    assert not ContextWatch._inline("x" * 100_000)
