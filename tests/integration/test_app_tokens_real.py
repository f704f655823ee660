"""The context meter on both real models: exact after every turn, and after a restart the
counts come from the persisted cache."""

from __future__ import annotations

import pytest

from ollm_tui.store.db import Store
from tests.app.helpers import send, wait_ready, wait_until
from tests.integration.test_app_real import real_app


@pytest.mark.parametrize("model", ["smollm2", "gemma"])
async def test_meter_is_exact_after_every_turn(
    settings, store, smollm_path, gemma_path, model
) -> None:
    path = smollm_path if model == "smollm2" else gemma_path
    settings = settings.with_(temperature=0.0, max_tokens=24)
    app, notes, engine = real_app(settings, store, path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: app.context.counts >= 1, timeout=30, what="the first count")
        for n, text in enumerate(
            ["Name a fruit.", "And a vegetable? ```x = 1``` naïve 東京"], start=1
        ):
            await send(pilot, text)
            await wait_until(
                pilot,
                lambda n=n: app.turn is None and app.context.counts >= n + 1,
                timeout=60,
                what=f"turn {n} and its count",
            )
            session = app.session
            expected = engine.count_prompt_tokens(session.engine_messages(session.history()))
            measured = app.context.last
            assert measured is not None and measured.breakdown.total == expected
            usage = app.status_line.meter.exact
            assert usage is not None and usage.used == expected - usage.budget.system
            reply = store.messages(app.chat.id)[-1]
            assert reply.meta["prompt_tokens"] < expected  # the reply is counted in too
        assert not notes.messages("error")
    engine.close()


async def test_a_restarted_app_counts_from_the_cache(settings, smollm_path) -> None:
    store = Store(settings.db_path)
    chat = store.create_chat("long")
    for i in range(40):
        store.add_message(
            chat.id, "user" if i % 2 == 0 else "assistant", f"Message {i}: " + "words " * 50
        )
    app, _, engine = real_app(settings, store, smollm_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: app.context.counts >= 1, timeout=30)
        first = app.context.last
        assert first is not None and first.breakdown.misses >= 40
    app.accounting.detach()
    engine.close()
    store.close()

    store = Store(settings.db_path)
    app, _, engine = real_app(settings, store, smollm_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: app.context.counts >= 1, timeout=30)
        again = app.context.last
        assert again is not None and again.breakdown.total == first.breakdown.total
        assert again.breakdown.misses == 0
        assert app.accounting.cache.stats.disk_hits >= 40
    app.accounting.detach()
    engine.close()
    store.close()
