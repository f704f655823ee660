"""A disk that fills while a reply streams: the reply stays on screen, a toast says what
happened, what was stored before is still there, and the app keeps running (issue 12)."""

from __future__ import annotations

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from tests.app.helpers import make_test_app, send, wait_ready, wait_until
from tests.fakes import FakeEngine

LONG = " ".join(["growing"] * 4000)


async def test_a_full_disk_mid_stream_keeps_the_reply_and_says_so(settings: Settings, store: Store):
    engine = FakeEngine(reply="short first reply")
    app, notes = make_test_app(settings, store, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "first")
        await wait_until(pilot, lambda: not app.model_busy(), timeout=30)
        before = [m.content for m in store.messages(app.chat.id)]
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        # a real SQLITE_FULL once the file must grow: the short user message still fits in
        # the pages there are, the 28 KB reply does not
        store._db.execute(f"PRAGMA max_page_count = {pages}")
        engine.reply = LONG
        await send(pilot, "second")
        await wait_until(pilot, lambda: app.turn is None, timeout=60, what="the reply to end")
        assert app.is_running
        stored = [m.content for m in store.messages(app.chat.id)]
        assert stored[: len(before)] == before
        assert notes.has("was not saved", "error") and notes.has("disk is full", "error")
        await wait_until(pilot, lambda: app.transcript.last_reply().text == LONG)
