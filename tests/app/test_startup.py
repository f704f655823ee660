"""Startup: the first frame comes before the model, and load problems never stop the app."""

from __future__ import annotations

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.too_small import TooSmallScreen
from ollm_tui.ui.widgets.transcript import Transcript
from tests.app.helpers import make_test_app, rendered_text, send, wait_ready, wait_until
from tests.fakes import FakeEngine


async def test_first_frame_comes_before_the_model_has_loaded(settings: Settings, store: Store):
    engine = FakeEngine(load_delay_s=1.0)
    app, _ = make_test_app(settings, store, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.is_running
        assert engine.info is None, "the load should still be running"
        assert app.status_line.load_state == "loading"
        assert "loading…" in rendered_text(app.status_line)
        assert app.query_one(Transcript).region.height > 0  # the layout is on screen
        assert app.composer.has_focus
        await wait_until(pilot, lambda: app.load_state == "ready", timeout=5)
        assert "ready" in rendered_text(app.status_line)
        assert "SmolLM2-135M-Instruct.Q4_1" in app.status_line.text


async def test_the_most_recent_chat_is_opened(settings: Settings, store: Store):
    old = store.create_chat("Old")
    store.add_message(old.id, "user", "old question")
    new = store.create_chat("Recent")
    store.add_message(new.id, "user", "recent question")
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.chat.id == new.id
        texts = [v.text for v in app.transcript.views()]
        assert texts == ["recent question"]


async def test_an_empty_store_gets_a_new_chat(settings: Settings, store: Store):
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await pilot.pause()
        chats = store.list_chats()
        assert [c.title for c in chats] == ["New chat"]
        assert app.chat.id == chats[0].id


async def test_a_load_failure_is_a_toast_and_the_app_keeps_working(
    settings: Settings, store: Store
):
    chat = store.create_chat("Kept")
    store.add_message(chat.id, "user", "still readable")
    app, notes = make_test_app(settings, store, FakeEngine(fail_load="not a GGUF file"))
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.load_state == "failed", what="the load to fail")
        assert notes.has("not a GGUF file", "error")
        assert "load failed" in rendered_text(app.status_line)
        assert [v.text for v in app.transcript.views()] == ["still readable"]

        await send(pilot, "hello?")
        await wait_until(pilot, lambda: notes.has("No model loaded"))
        assert notes.has("No model loaded: loading failed (not a GGUF file)", "error")
        assert app.composer.text == "hello?"
        assert [m.content for m in store.messages(chat.id)] == ["still readable"]

        await pilot.press("ctrl+n")  # the rest of the app still works
        await wait_until(pilot, lambda: len(store.list_chats()) == 2)
        assert app.is_running


async def test_a_startup_error_is_shown_and_nothing_loads(settings: Settings, store: Store):
    engine = FakeEngine()
    app, notes = make_test_app(
        settings, store, engine, startup_error="no model called 'qwen-9000' was found"
    )
    async with app.run_test() as pilot:
        await pilot.pause()
        assert notes.has("no model called 'qwen-9000' was found", "error")
        assert engine.info is None
        assert app.load_state == "none"
        assert "no model" in rendered_text(app.status_line)
        await send(pilot, "hi")
        await wait_until(pilot, lambda: notes.has("No model loaded: no model called"))
        assert app.composer.text == "hi"


async def test_no_model_found_says_so(settings: Settings, store: Store):
    app, notes = make_test_app(settings, store, FakeEngine(), model_path=None)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert notes.has("No model found", "error")
        assert app.load_state == "none"


async def test_sending_while_the_model_loads_is_refused(settings: Settings, store: Store):
    app, notes = make_test_app(settings, store, FakeEngine(load_delay_s=1.0))
    async with app.run_test() as pilot:
        await pilot.pause()
        await send(pilot, "too early")
        await wait_until(pilot, lambda: notes.has("is still loading"))
        assert app.composer.text == "too early"
        await wait_ready(pilot)


async def test_a_tiny_terminal_shows_a_message_instead_of_a_broken_layout(
    settings: Settings, store: Store
):
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(30, 8)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        too_small = app.screen.query_one("#too-small")
        assert "Terminal too small" in rendered_text(too_small)
        await pilot.resize_terminal(120, 40)
        await wait_until(pilot, lambda: not isinstance(app.screen, TooSmallScreen))
        assert app.query_one("#main").display


async def test_a_broken_profile_warns_but_the_model_still_loads(settings: Settings, store: Store):
    problem = "profile /home/u/.config/ollm_tui/profiles/x.toml: not valid TOML: [bad]"
    app, notes = make_test_app(settings, store, FakeEngine(), warnings=[problem])
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        assert notes.has("x.toml", "warning")
        assert not notes.messages("error")
        assert any("[bad]" in m and not markup for m, _, markup in notes.calls)  # shown verbatim
