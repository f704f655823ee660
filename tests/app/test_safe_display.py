"""Terminal-safe output through the app: whatever a model, a chat title, a stored message, a
checkpoint summary or a toast holds, the rendered segments hold no terminal control (no ESC,
no C1, no raw bidi override), and the store keeps the exact text.

The property test drives the whole app with hypothesis (few examples: each one is an app
run); ``tests/unit/test_display.py`` gives the sanitiser itself many more.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from textual.document._document import Document
from textual.pilot import Pilot

from ollm_tui.core.display import BIDI_NAMES
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.app import OllmApp
from ollm_tui.ui.screens.dialogs import ConfirmDialog, RenameDialog
from ollm_tui.ui.widgets.markdown_doc import MarkdownDoc
from ollm_tui.ui.widgets.transcript import ReplyEntry
from tests.app.helpers import make_test_app, screen_lines, send, wait_ready, wait_until
from tests.fakes import FakeEngine
from tests.unit.test_display import HOSTILE, hostile_text

ALL_HOSTILE = " ".join(HOSTILE)


def unsafe_in_segments(app: OllmApp) -> list[str]:
    """Every rendered segment text (of the screen on top) that holds a terminal control."""
    bad: list[str] = []
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            if segment.control:
                bad.append(repr(segment))
                continue
            for ch in segment.text:
                code = ord(ch)
                if (
                    code < 0x20
                    or 0x7F <= code < 0xA0
                    or code in BIDI_NAMES
                    or 0xD800 <= code < 0xE000
                ):
                    bad.append(repr(segment.text))
                    break
    return bad


def assert_screen_safe(app: OllmApp, where: str) -> None:
    bad = unsafe_in_segments(app)
    assert not bad, f"{where}: terminal controls reached the screen: {bad[:5]}"


def seed(store: Store, text: str) -> int:
    """A chat titled ``text`` whose messages, divider and checkpoint all hold ``text``."""
    chat = store.create_chat(f"t {text}")
    user = store.add_message(chat.id, "user", f"u {text}")
    kept = store.add_message(chat.id, "assistant", f"a {text}", meta={"model": f"m {text}"})
    store.add_message(chat.id, "divider", f"Switched to {text}")
    checkpoint = store.add_checkpoint(chat.id, 3, f"s {text}", 5, user.id, user.id, 1)
    store.set_active_context(chat.id, [checkpoint.id], kept.id)
    return chat.id


async def drive(pilot: Pilot[Any], app: OllmApp, store: Store, text: str, chat_id: int) -> None:
    """Stream a reply holding ``text``; check the screen while it streams, after it ends, with
    a toast, with the checkpoint expanded and with each dialog open."""
    await wait_ready(pilot)
    assert_screen_safe(app, "a stored chat")
    await send(pilot, f"q {text} .")  # (the app strips the ends of what is sent)
    reply = app.transcript.last_reply()
    assert reply is not None
    await wait_until(pilot, lambda: reply.status != "streaming" or reply.doc.source)
    assert_screen_safe(app, "while streaming")
    await wait_until(pilot, lambda: reply.status == "complete", what="the reply")
    await pilot.pause()
    assert_screen_safe(app, "after the reply")
    app.notify(f"n {text}", title=f"t {text}", markup=False)
    for divider in app.transcript.dividers():
        if divider.collapsed:
            divider.toggle()
    await pilot.pause()
    assert_screen_safe(app, "a toast and an expanded checkpoint")
    app.push_screen(ConfirmDialog(f"t {text}", f"Delete “{text}”?", f"y {text}"))
    await pilot.pause()
    assert_screen_safe(app, "the confirm dialog")
    app.pop_screen()
    app.push_screen(RenameDialog(f"t {text}"))
    await pilot.pause()
    assert_screen_safe(app, "the rename dialog")
    app.pop_screen()
    app.composer.load_text(f"c {text}")  # pasted or recalled text in the composer
    await pilot.pause()
    assert_screen_safe(app, "the composer")


def check_store(store: Store, chat_id: int, text: str, reply: str) -> None:
    """The store holds exactly what was written (nothing was sanitised on the way in)."""
    chats = {c.title for c in store.list_chats()}
    assert f"t {text}" in chats
    messages = store.messages(chat_id)
    assert [m.content for m in messages[:3]] == [f"u {text}", f"a {text}", f"Switched to {text}"]
    assert store.checkpoints(chat_id)[0].summary == f"s {text}"
    # what the composer sent: TextArea's document splits lines as str.splitlines does
    # (\x1c-\x1e, \x85, U+2028 become newlines there), the store keeps that exactly
    assert messages[-2].content == Document(f"q {text} .").text
    assert messages[-1].content == reply


async def scenario(base: Path, text: str) -> None:
    settings = Settings(data_dir=base / "data", config_dir=base / "config", log_dir=base / "logs")
    store = Store(settings.db_path)
    try:
        chat_id = seed(store, text)
        reply = f"r {text} end"
        app, _ = make_test_app(settings, store, FakeEngine(reply=reply, delay_s=0.002))
        async with app.run_test(size=(100, 40)) as pilot:
            await drive(pilot, app, store, text, chat_id)
        check_store(store, chat_id, text, reply)
    finally:
        store.close()


@given(hostile_text)
@hsettings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_hostile_text_never_reaches_the_terminal(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scenario(Path(tmp), text))


def test_every_hostile_sequence_at_once(tmp_path: Path) -> None:
    asyncio.run(scenario(tmp_path, ALL_HOSTILE))


async def reply_to_go(pilot: Pilot[Any], app: OllmApp) -> ReplyEntry:
    """Send "go" and wait for the whole reply."""
    await wait_ready(pilot)
    await send(pilot, "go")
    view = app.transcript.last_reply()
    assert view is not None
    await wait_until(pilot, lambda: view.status == "complete", what="the reply")
    return view


async def test_a_reply_shows_its_escapes_and_keeps_its_text(
    settings: Settings, store: Store
) -> None:
    reply = "Hi \x1b[2J\x1b[H and \x1b]0;PWNED\x07 and \u202eabc"
    app, _ = make_test_app(settings, store, FakeEngine(reply=reply, delay_s=0.002))
    async with app.run_test(size=(100, 30)) as pilot:
        view = await reply_to_go(pilot, app)
        await pilot.pause()
        screen = "\n".join(screen_lines(app))
        assert "␛[2J␛[H" in screen and "␛]0;PWNED␇" in screen and "⟪RLO⟫abc" in screen
        assert view.text == reply  # what copying copies: the exact text
        assert view.doc.source == "Hi ␛[2J␛[H and ␛]0;PWNED␇ and ⟪RLO⟫abc"
        assert store.messages(app.chat.id)[-1].content == reply


async def test_a_streamed_reply_is_not_rendered_again_when_it_holds_escapes(
    settings: Settings, store: Store, monkeypatch
) -> None:
    """finish() gives the document the stored reply's display form, which must equal what
    streamed in (sanitised the same way), so a reply with escapes keeps its frozen blocks
    instead of costing a second full render."""
    updates: list[bool] = []
    original = MarkdownDoc.set_source

    def recording(self: MarkdownDoc, text: str) -> None:
        updates.append(text == self.source)
        original(self, text)

    monkeypatch.setattr(MarkdownDoc, "set_source", recording)
    reply = "one\r\ntwo\r three \x1b[31mred\x1b[0m " * 20
    app, _ = make_test_app(settings, store, FakeEngine(reply=reply, delay_s=0.001))
    async with app.run_test(size=(100, 30)) as pilot:
        view = await reply_to_go(pilot, app)
        assert view.doc.source.startswith("one\ntwo␍ three ␛[31mred␛[0m")
        assert updates == [True], "the stored reply's display form is what streamed in"


async def test_a_link_in_a_reply_shows_its_target_and_is_no_terminal_hyperlink(
    settings: Settings, store: Store
) -> None:
    """A link's text can differ from its target: the target is printed after the text, and
    no line carries a link style (which the terminal would get as an OSC 8 hyperlink)."""
    reply = "See [the docs](https://evil.example/steal) for more."
    app, _ = make_test_app(settings, store, FakeEngine(reply=reply))
    async with app.run_test(size=(100, 30)) as pilot:
        view = await reply_to_go(pilot, app)
        await pilot.pause()
        screen = "\n".join(screen_lines(app))
        assert "the docs (https://evil.example/steal)" in screen
        lines = app.transcript.lines_of(view)
        links = [s.style.link for line in lines for s in line if s.style and s.style.link]
        assert links == []


async def test_model_name_palette_stats_and_panes_are_safe(
    settings: Settings, store: Store
) -> None:
    """A model file name and chat titles full of escapes: the status line, the role label,
    the palette's chat entries, the F8 stats view, the keys pane and the guide."""
    evil = "evil\x1b]0;PWNED\x07\x1b[2J\u202e"
    store.create_chat(f"chat {evil}")
    app, _ = make_test_app(
        settings, store, FakeEngine(reply=f"r {evil}"), model_path=Path(f"/models/{evil}.gguf")
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "hi")
        view = app.transcript.last_reply()
        assert view is not None
        await wait_until(pilot, lambda: view.status == "complete", what="the reply")
        await pilot.pause()
        screen = "\n".join(screen_lines(app))
        assert "evil␛]0;PWNED␇␛[2J⟪RLO⟫" in screen  # status line and role label
        assert_screen_safe(app, "the status line")
        app.action_command_palette()
        await pilot.pause()
        await pilot.press(*"chat")
        await pilot.pause(0.3)
        assert "chat evil␛]0;PWNED␇" in "\n".join(screen_lines(app))
        assert_screen_safe(app, "the command palette")
        await pilot.press("escape")
        await pilot.pause()
        app.chat_screen.action_token_stats()
        await pilot.pause(0.3)
        assert_screen_safe(app, "the token stats")
        await pilot.press("escape")
        for pane in ("keys", "docs"):
            await app.action_show_pane(pane)
            await pilot.pause(0.3)
            assert_screen_safe(app, f"the {pane} pane")
        await app.action_show_pane("chat")
