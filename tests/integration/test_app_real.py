"""The app on the real starter model: streaming into the pane, Esc, and a restart."""

from __future__ import annotations

import asyncio
import time

from ollm_tui.engine.base import LoadOptions
from ollm_tui.engine.factory import make_engine
from ollm_tui.store.db import Store
from tests.app.helpers import make_test_app, rendered_text, send, wait_ready, wait_until

OPTIONS = LoadOptions(n_ctx=2048, n_threads=1, n_threads_batch=1)


def real_app(settings, store, model_path):
    engine, errors = make_engine(settings, lazy=True)
    assert not errors  # (a tuple of profile problems)
    app, notes = make_test_app(settings, store, engine, model_path, load_options=OPTIONS)
    return app, notes, engine


async def test_reply_streams_into_the_pane_and_is_stored(settings, store, smollm_path) -> None:
    app, notes, engine = real_app(settings.with_(temperature=0.0), store, smollm_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        seen_partial: list[str] = []

        async def watch() -> None:
            # sampled beside the key press: Pilot's press() waits for the screen's queues,
            # which a streaming reply keeps busy, so it can return after the reply is done
            while True:
                reply = app.transcript.last_reply()
                if reply is not None and reply.status == "streaming" and reply.text:
                    seen_partial.append(reply.text)
                if reply is not None and reply.status == "complete" and reply.message:
                    return
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        await send(
            pilot,
            "What is the capital of France? Answer, then describe the city in a long paragraph.",
        )
        await wait_until(pilot, watcher.done, timeout=60, what="the reply to finish")
        await pilot.pause(0.2)
        reply = app.transcript.last_reply()
        assert "Paris" in reply.text
        assert seen_partial, "text appeared while the reply was still streaming"
        assert "Paris" in app.transcript.text_of(reply)  # drawn (the view may have moved on)
        stored = store.messages(app.chat.id)
        assert [(m.role, m.status) for m in stored] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]
        assert stored[1].meta["prompt_tokens"] > 0 and stored[1].meta["tokens_per_s"] > 0
        assert not notes.messages("error")
    engine.close()


async def test_escape_stops_a_long_reply_and_keeps_it(settings, store, smollm_path) -> None:
    app, _, engine = real_app(settings.with_(max_tokens=400), store, smollm_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Write a very long story about a dragon and a knight.")
        await wait_until(
            pilot,
            lambda: (
                app.transcript.last_reply() is not None
                and len(app.transcript.last_reply().text) > 40
            ),
            timeout=60,
            what="some text to stream",
        )
        pressed = time.perf_counter()
        await pilot.press("escape")
        await wait_until(
            pilot,
            lambda: app.transcript.last_reply().status == "stopped",
            timeout=5,
            what="the reply to stop",
        )
        assert time.perf_counter() - pressed < 1.5  # generous: 0.5 s in the engine + UI
        stored = store.messages(app.chat.id)[-1]
        assert stored.status == "stopped" and len(stored.content) > 40
    engine.close()


async def test_chat_survives_an_app_restart(settings, smollm_path) -> None:
    store = Store(settings.db_path)
    app, _, engine = real_app(settings.with_(temperature=0.0, max_tokens=40), store, smollm_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Name one colour.")
        await wait_until(
            pilot,
            lambda: (
                app.transcript.last_reply() is not None
                and app.transcript.last_reply().status == "complete"
            ),
            timeout=60,
        )
        first_reply = app.transcript.last_reply().text
        chat_id = app.chat.id
    engine.close()
    store.close()

    store2 = Store(settings.db_path)
    app2, _, engine2 = real_app(settings, store2, smollm_path)
    async with app2.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.pause(0.2)
        assert app2.chat.id == chat_id
        assert app2.transcript.last_reply().text == first_reply
        screen = rendered_text(app2.transcript)
        assert "Name one colour." in screen
    engine2.close()
    store2.close()
