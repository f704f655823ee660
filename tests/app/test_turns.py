"""Sending, streaming, stopping, regenerating, and what the user sees of each."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from textual.widgets import Footer

from ollm_tui.engine.base import (
    CancelToken,
    ChatMessage,
    Delta,
    GenerationError,
    GenParams,
    StreamEvent,
)
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.widgets.markdown_doc import MarkdownDoc
from ollm_tui.ui.widgets.transcript import ReplyEntry, UserEntry
from tests.app.helpers import make_test_app, rendered_text, send, wait_ready, wait_until
from tests.fakes import FakeEngine

LONG_REPLY = " ".join(f"word{i}" for i in range(400))


def replies(app) -> list[ReplyEntry]:
    return [v for v in app.transcript.views() if isinstance(v, ReplyEntry)]


def users(app) -> list[UserEntry]:
    return [v for v in app.transcript.views() if isinstance(v, UserEntry)]


async def test_send_shows_the_message_streams_the_reply_and_stores_it(
    settings: Settings, store: Store
):
    engine = FakeEngine(reply="Hello there, **friend**.")
    app, _ = make_test_app(settings, store, engine)
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "hi model")
        await wait_until(pilot, lambda: replies(app) and replies(app)[-1].status == "complete")
        assert app.composer.text == ""
        user = users(app)[0]
        assert user.text == "hi model"
        reply = replies(app)[-1]
        assert reply.doc.source == "Hello there, **friend**."
        assert "Hello there, friend." in app.transcript.text_of(reply)  # Markdown rendered
        assert "Hello there, friend." in rendered_text(app.transcript)  # and on screen
        stored = store.messages(app.chat.id)
        assert [(m.role, m.content, m.status) for m in stored] == [
            ("user", "hi model", "complete"),
            ("assistant", "Hello there, **friend**.", "complete"),
        ]
        assert app.chat.title == "hi model"  # the first message names the chat
        assert app.turn is None
        assert "tok/s" in app.status_line.text and "first token" in app.status_line.text


async def test_user_text_that_looks_like_markup_is_shown_verbatim(settings: Settings, store: Store):
    text = "[bold]x[/] [link=foo] **not bold** `code` <b>"
    app, _ = make_test_app(settings, store, FakeEngine(reply="ok"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, text)
        await wait_until(pilot, lambda: replies(app) and replies(app)[-1].status == "complete")
        user = users(app)[0]
        assert text in app.transcript.text_of(user)
        assert store.messages(app.chat.id)[0].content == text
        # the chat title comes from the same text and must not be parsed either
        assert app.chat.title.startswith("[bold]x[/] [link=foo]")
        assert "▸ [bold]x[/] [link=foo]" in rendered_text(app.chat_list)
        assert "[bold]x[/] [link=foo]" in rendered_text(app.transcript).splitlines()[0]


async def test_escape_stops_the_reply_keeps_the_text_and_marks_it(settings: Settings, store: Store):
    engine = FakeEngine(reply=LONG_REPLY, delay_s=0.05)
    app, _ = make_test_app(settings, store, engine)
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "talk a lot")
        await wait_until(pilot, lambda: replies(app) and len(replies(app)[-1].text) > 20)
        reply = replies(app)[-1]
        assert "generating…" in app.status_line.text
        await pilot.pause()
        assert "esc Stop" in rendered_text(app.query_one(Footer))
        await pilot.press("escape")
        # stopping shows at once, before the engine has noticed
        assert reply.status in ("stopping", "stopped")
        assert "stopping" in reply.marker_text() or "stopped" in reply.marker_text()
        await wait_until(pilot, lambda: reply.status == "stopped", timeout=3)
        stored = store.messages(app.chat.id)[-1]
        assert stored.status == "stopped"
        assert 0 < len(stored.content) < len(LONG_REPLY)
        assert LONG_REPLY.startswith(stored.content)
        assert reply.doc.source == stored.content
        assert reply.bar == "bar-warning"
        await pilot.pause()
        assert "■ stopped: the reply was cut short" in rendered_text(app.transcript)
        assert app.turn is None
        assert "generating" not in app.status_line.text
        assert "esc Stop" not in rendered_text(app.query_one(Footer))


async def test_regenerate_replaces_the_last_reply(settings: Settings, store: Store):
    engine = FakeEngine(reply="first answer")
    app, _ = make_test_app(settings, store, engine)
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "question")
        await wait_until(pilot, lambda: replies(app) and replies(app)[-1].status == "complete")
        engine.reply = "second answer"
        await pilot.press("ctrl+r")
        await wait_until(
            pilot,
            lambda: (
                len(replies(app)) == 1
                and replies(app)[0].status == "complete"
                and replies(app)[0].text == "second answer"
            ),
        )
        stored = store.messages(app.chat.id)
        assert [(m.role, m.content) for m in stored] == [
            ("user", "question"),
            ("assistant", "second answer"),
        ]


async def test_regenerate_with_nothing_to_answer_says_so(settings: Settings, store: Store):
    app, notes = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: notes.has("Nothing to regenerate"))
        assert store.messages(app.chat.id) == []


async def test_a_message_too_long_for_the_context_stays_in_the_composer(
    settings: Settings, store: Store
):
    # FakeEngine counts a token per word; 256 tokens leave 192 for the prompt.
    settings = settings.with_(context_size=256)
    text = " ".join(["long"] * 300)
    app, notes = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, text)
        await wait_until(pilot, lambda: notes.has("Message too long", "error"))
        assert app.composer.text == text
        assert store.messages(app.chat.id) == []
        assert replies(app) == [] and not users(app)
        assert app.turn is None


class BrokenEngine(FakeEngine):
    """Streams a few words, then fails the way a backend reports errors (or crashes)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(reply="never mind")
        self.error = error

    def stream(
        self, messages: Sequence[ChatMessage], params: GenParams, cancel: CancelToken
    ) -> Iterator[StreamEvent]:
        yield Delta("partial ")
        yield Delta("[red]text[/red]")
        raise self.error


async def test_an_engine_error_shows_an_error_marker_and_a_toast(settings: Settings, store: Store):
    app, notes = make_test_app(settings, store, BrokenEngine(GenerationError("out of [memory]")))
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "go")
        await wait_until(pilot, lambda: replies(app) and replies(app)[-1].status == "error")
        reply = replies(app)[-1]
        assert reply.bar == "bar-error"
        await pilot.pause()
        assert "✖ error: out of [memory]" in rendered_text(app.transcript)
        assert notes.has("The reply failed: out of [memory]", "error")
        assert all(not markup for message, _, markup in notes.calls if "memory" in message)
        stored = store.messages(app.chat.id)[-1]
        assert (stored.status, stored.content) == ("error", "partial [red]text[/red]")
        assert app.is_running and app.turn is None


async def test_an_unexpected_crash_in_generation_never_takes_the_app_down(
    settings: Settings, store: Store
):
    app, notes = make_test_app(settings, store, BrokenEngine(RuntimeError("segfault-ish")))
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "go")
        await wait_until(pilot, lambda: notes.has("segfault-ish", "error"))
        await wait_until(pilot, lambda: replies(app) and replies(app)[-1].status == "interrupted")
        assert store.messages(app.chat.id)[-1].status == "interrupted"
        assert app.is_running and app.turn is None
        # and the next message goes through once the engine behaves
        app.engine = FakeEngine(reply="fine now")  # type: ignore[assignment]
        app.engine._info = app.engine.load(app.model_path, app.load_options)  # type: ignore[attr-defined]
        app.session.engine = app.engine  # type: ignore[union-attr]
        await send(pilot, "again")
        await wait_until(pilot, lambda: replies(app)[-1].status == "complete")
        assert replies(app)[-1].text == "fine now"


async def test_tokens_reach_the_markdown_in_batches_not_one_by_one(
    settings: Settings, store: Store, monkeypatch
):
    writes: list[str] = []
    original = MarkdownDoc.append

    def counting_append(self, fragment: str) -> None:
        writes.append(fragment)
        original(self, fragment)

    monkeypatch.setattr(MarkdownDoc, "append", counting_append)
    reply_text = " ".join(f"w{i}" for i in range(300))
    engine = FakeEngine(reply=reply_text, delay_s=0.002)
    app, _ = make_test_app(settings, store, engine)
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "count")
        await wait_until(pilot, lambda: replies(app) and replies(app)[-1].status == "complete")
        assert 0 < len(writes) < 300 // 4, f"{len(writes)} writes for 300 tokens"
        assert replies(app)[-1].doc.source == reply_text


async def test_the_transcript_stays_pinned_to_the_bottom_while_streaming(
    settings: Settings, store: Store
):
    reply_text = "\n\n".join(f"Paragraph {i} of a long answer." for i in range(60))
    engine = FakeEngine(reply=reply_text, delay_s=0.005)
    app, _ = make_test_app(settings, store, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "write a lot")
        transcript = app.transcript
        await wait_until(pilot, lambda: transcript.max_scroll_y > 10, what="overflow")
        behind: list[float] = []  # how far from the bottom the view is, while streaming
        while replies(app)[-1].status != "complete":
            behind.append(transcript.max_scroll_y - transcript.scroll_y)
            await pilot.pause(0.02)
        assert behind and max(behind) <= 3, behind
        await wait_until(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y)
        await wait_until(
            pilot, lambda: "Paragraph 59" in rendered_text(transcript), what="the end on screen"
        )


async def test_enter_sends_and_ctrl_j_adds_a_line(settings: Settings, store: Store):
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await pilot.press("a", "ctrl+j", "b", "alt+enter", "c")
        assert app.composer.text == "a\nb\nc"
        assert store.messages(app.chat.id) == []
        await pilot.press("enter")
        await wait_until(pilot, lambda: replies(app) and replies(app)[-1].status == "complete")
        assert store.messages(app.chat.id)[0].content == "a\nb\nc"
        assert replies(app)[-1].text == "You said: a\nb\nc"


async def test_blank_text_is_not_sent(settings: Settings, store: Store):
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "   \n  ")
        await pilot.pause()
        assert store.messages(app.chat.id) == []
        assert app.turn is None


async def test_up_in_an_empty_composer_recalls_the_last_message(settings: Settings, store: Store):
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "say it again")
        await wait_until(pilot, lambda: replies(app) and replies(app)[-1].status == "complete")
        await pilot.press("up")
        assert app.composer.text == "say it again"


async def test_quitting_while_streaming_keeps_the_reply_as_stopped(
    settings: Settings, store: Store
):
    engine = FakeEngine(reply=LONG_REPLY, delay_s=0.05)
    app, _ = make_test_app(settings, store, engine)
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "long")
        await wait_until(pilot, lambda: app.turn is not None and app.turn.buffer.total_chars > 10)
        chat_id = app.chat.id
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: not app.is_running, timeout=5)
    last = store.messages(chat_id)[-1]
    assert last.status == "stopped" and last.content
