"""The end of a streamed reply: what streamed in is what a full render shows, so the app
skips the full re-render (seconds for a long reply) unless the stored text differs."""

from __future__ import annotations

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.widgets.transcript import AssistantMessage, ReplyMarkdown
from tests.app.helpers import make_test_app, rendered_text, send, wait_ready, wait_until
from tests.fakes import FakeEngine

REPLY = (
    "## Plan\n\nFirst a paragraph with **bold** and `code`.\n\n- one\n- two\n  - nested\n\n"
    "```python\ndef f(x):\n    return x * 2\n```\n\n1. first\n2. second\n\n"
    "> a quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nThe end, after the code."
)


async def test_streamed_reply_renders_like_a_full_render_without_one(
    settings: Settings, store: Store, monkeypatch
) -> None:
    updates: list[str] = []
    original = ReplyMarkdown.update

    def counting(self: ReplyMarkdown, markdown: str):
        updates.append(markdown)
        return original(self, markdown)

    monkeypatch.setattr(ReplyMarkdown, "update", counting)
    app, _ = make_test_app(settings, store, FakeEngine(reply=REPLY, delay_s=0.003))
    async with app.run_test(size=(100, 60)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "show me")
        await wait_until(
            pilot, lambda: app.query(AssistantMessage).last().status == "complete", what="the reply"
        )
        await pilot.pause(0.2)
        reply = app.query(AssistantMessage).last()
        assert reply.markdown.source == REPLY
        assert REPLY not in updates, "no full re-render at the end"
        streamed = rendered_text(reply)
        assert "return x * 2" in streamed and "The end, after the code." in streamed
        await reply.markdown.update(REPLY)  # what the old full render would show
        await pilot.pause(0.2)
        assert rendered_text(reply) == streamed


LONG = "\n\n".join(
    [f"## Section {i}\n\nParagraph {i} with some words.\n\n- item {i}\n- more" for i in range(30)]
    + ["```python\ndef f():\n\n    return 1\n\n\nprint(f())\n```", "The last words."]
)


async def test_a_long_reply_with_code_ends_like_a_full_render(
    settings: Settings, store: Store
) -> None:
    app, _ = make_test_app(settings, store, FakeEngine(reply=LONG, delay_s=0.001))
    async with app.run_test(size=(100, 400)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "long")
        await wait_until(
            pilot,
            lambda: app.query(AssistantMessage).last().status == "complete",
            timeout=60,
            what="the reply",
        )
        await pilot.pause(0.3)
        reply = app.query(AssistantMessage).last()
        assert reply.markdown.source == LONG, "every streamed piece reached the widget"
        streamed = rendered_text(reply)
        await reply.markdown.update(LONG)  # one full render
        await pilot.pause(0.3)
        assert rendered_text(reply) == streamed
