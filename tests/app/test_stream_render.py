"""The end of a streamed reply: what streamed in, block by block, is exactly what a full
render of the stored reply shows (same lines, same styles), without a second render."""

from __future__ import annotations

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.app import OllmApp
from ollm_tui.ui.safe_text import safe_markdown
from ollm_tui.ui.widgets.markdown_doc import render_markdown
from ollm_tui.ui.widgets.transcript import ReplyEntry
from tests.app.helpers import make_test_app, rendered_text, send, wait_ready, wait_until
from tests.fakes import FakeEngine

REPLY = (
    "## Plan\n\nFirst a paragraph with **bold** and `code`.\n\n- one\n- two\n  - nested\n\n"
    "```python\ndef f(x):\n    return x * 2\n```\n\n1. first\n2. second\n\n"
    "> a quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nThe end, after the code."
)


def last_reply(app: OllmApp) -> ReplyEntry:
    reply = app.transcript.last_reply()
    assert reply is not None
    return reply


def assert_like_a_full_render(app: OllmApp, reply: ReplyEntry, text: str) -> None:
    """The reply's Markdown lines equal a fresh render of ``text``, segment for segment."""
    width = app.transcript.content_width
    streamed = reply.doc.lines(width, app.console)
    full = render_markdown(safe_markdown(text), width, app.console)
    assert [line.text for line in streamed] == [line.text for line in full]
    assert [list(line) for line in streamed] == [list(line) for line in full]


async def test_streamed_reply_renders_like_a_full_render(settings: Settings, store: Store) -> None:
    app, _ = make_test_app(settings, store, FakeEngine(reply=REPLY, delay_s=0.003))
    async with app.run_test(size=(100, 60)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "show me")
        await wait_until(pilot, lambda: last_reply(app).status == "complete", what="the reply")
        await pilot.pause(0.2)
        reply = last_reply(app)
        assert reply.doc.source == REPLY
        assert_like_a_full_render(app, reply, REPLY)
        shown = rendered_text(app.transcript)
        assert "return x * 2" in shown and "The end, after the code." in shown


LONG = "\n\n".join(
    [f"## Section {i}\n\nParagraph {i} with some words.\n\n- item {i}\n- more" for i in range(30)]
    + ["```python\ndef f():\n\n    return 1\n\n\nprint(f())\n```", "The last words."]
)


async def test_a_long_reply_with_code_ends_like_a_full_render(
    settings: Settings, store: Store
) -> None:
    app, _ = make_test_app(settings, store, FakeEngine(reply=LONG, delay_s=0.001))
    async with app.run_test(size=(100, 50)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "long")
        await wait_until(
            pilot, lambda: last_reply(app).status == "complete", timeout=60, what="the reply"
        )
        await pilot.pause(0.3)
        reply = last_reply(app)
        assert reply.doc.source == LONG, "every streamed piece reached the document"
        assert_like_a_full_render(app, reply, LONG)
        assert "The last words." in rendered_text(app.transcript)  # following the end
