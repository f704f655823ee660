"""The transcript of a long chat: only what is in view is rendered, the view stays still while
estimates are corrected, jumps land on the right message, and memory stays bounded."""

from __future__ import annotations

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.app import OllmApp
from ollm_tui.ui.widgets import transcript_view
from tests.app.helpers import make_test_app, rendered_text, send, wait_ready, wait_until
from tests.fakes import FakeEngine

PAIRS = 600


def seed_long_chat(store: Store, pairs: int = PAIRS) -> int:
    chat = store.create_chat("Long")
    for i in range(pairs):
        store.add_message(chat.id, "user", f"question Q{i} " + "words " * (5 + i % 40))
        store.add_message(
            chat.id,
            "assistant",
            f"## Answer A{i}\n\n" + "more words " * (10 + i % 60) + f"\n\n- one\n- two\n\nEND{i}",
        )
    return chat.id


def rendered_entries(app: OllmApp) -> int:
    return sum(1 for e in app.transcript.entries if e._cache is not None)


async def test_a_long_chat_opens_at_its_end_rendering_only_what_is_in_view(
    settings: Settings, store: Store
):
    seed_long_chat(store)
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: f"END{PAIRS - 1}" in rendered_text(app.transcript))
        assert len(app.transcript.entries) == 2 * PAIRS
        assert rendered_entries(app) <= 12, "only the entries near the end were rendered"
        assert app.transcript.follow


async def test_scrolling_up_keeps_the_view_continuous(settings: Settings, store: Store):
    """Entries scrolled into view replace their estimated heights with real ones; that must
    not move what the user is reading: after scrolling up 10 lines, the lines that were at
    the top of the view are exactly 10 rows lower."""
    seed_long_chat(store)
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        transcript = app.transcript
        await wait_until(pilot, lambda: f"END{PAIRS - 1}" in rendered_text(transcript))
        for _ in range(30):
            before = rendered_text(transcript).splitlines()[1:-1]  # inside the border
            transcript.scroll_relative(y=-10, animate=False)
            await pilot.pause()
            after = rendered_text(transcript).splitlines()[1:-1]
            assert [row[:-4] for row in after[10:]] == [
                row[:-4] for row in before[:-10]
            ]  # (no scrollbar)
        assert not transcript.follow, "scrolling up stops following the end"
        assert 0 < transcript.scroll_y < transcript.max_scroll_y


async def test_home_and_jump_land_on_the_right_message(settings: Settings, store: Store):
    chat_id = seed_long_chat(store)
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        transcript = app.transcript
        await wait_until(pilot, lambda: f"END{PAIRS - 1}" in rendered_text(transcript))
        transcript.focus()
        await pilot.press("home")
        await wait_until(pilot, lambda: "question Q0 " in rendered_text(transcript))
        assert transcript.cursor == 0
        target = store.messages(chat_id)[2 * 345]  # the user message "question Q345"
        assert transcript.jump_to(target.id)
        await pilot.pause()
        top = rendered_text(transcript).splitlines()[1:4]
        assert any("question Q345 " in line for line in top), top
        assert transcript.selected is not None and transcript.selected.message == target
        await pilot.press("end")
        await wait_until(pilot, lambda: f"END{PAIRS - 1}" in rendered_text(transcript))
        await wait_until(pilot, lambda: transcript.follow)


async def test_scrolling_through_everything_keeps_memory_bounded(
    settings: Settings, store: Store, monkeypatch
):
    monkeypatch.setattr(transcript_view, "KEEP_RENDERED", 40)
    seed_long_chat(store, pairs=150)
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        transcript = app.transcript
        transcript.focus()
        await pilot.press("home")
        seen = 0
        for _ in range(400):
            await pilot.press("pagedown")
            seen = max(seen, rendered_entries(app))
            if transcript.follow:
                break
        assert transcript.follow, "paged down to the end"
        assert 0 < seen <= 40, seen


async def test_scrolling_up_while_streaming_stops_following_and_end_resumes(
    settings: Settings, store: Store
):
    seed_long_chat(store, pairs=20)
    reply = "\n\n".join(f"Paragraph {i} of a long answer." for i in range(200))
    app, _ = make_test_app(settings, store, FakeEngine(reply=reply, delay_s=0.01))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "write a lot")
        transcript = app.transcript
        await wait_until(pilot, lambda: "Paragraph 20 " in (transcript.last_reply() or "").text)
        transcript.scroll_to(y=transcript.scroll_y - 15, animate=False, immediate=True)
        await pilot.pause()
        held = transcript.scroll_y
        assert not transcript.follow
        await wait_until(pilot, lambda: "Paragraph 60 " in transcript.last_reply().text)
        assert transcript.scroll_y == held, "the view stayed where the user put it"
        transcript.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert transcript.follow
        await wait_until(pilot, lambda: transcript.last_reply().status == "complete", timeout=20)
        await wait_until(pilot, lambda: "Paragraph 199 " in rendered_text(transcript))


async def test_the_cursor_is_drawn_as_a_tinted_line(settings: Settings, store: Store):
    """The selected message gets the transcript's boost tint (a blend, not opaque white)."""
    chat = store.create_chat("Two")
    store.add_message(chat.id, "user", "hello")
    store.add_message(chat.id, "assistant", "world")
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await pilot.press("shift+tab")
        transcript = app.transcript
        assert transcript.has_focus and transcript.cursor == 1

        def background(y: int) -> str:
            return str(next(iter(transcript.render_line(y))).style.bgcolor.name)

        plain, selected = background(0), background(3)  # "You" line, "Assistant" line
        assert selected != plain and selected not in ("#ffffff", "white")
        await pilot.press("up")
        assert background(0) == selected and background(3) == plain
