"""Stopping a Markdown stream whose task never ran must not cancel the caller.

Textual's ``MarkdownStream.stop()`` re-raises the cancellation of a task that was created but
not started yet; a short reply finishing within one drain hit it under load and hung the
app's message pump (the cause of a flaky test).
"""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Markdown

from ollm_tui.ui.widgets.transcript import stop_stream


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Markdown()


async def test_stopping_a_stream_that_never_ran() -> None:
    async with Host().run_test() as pilot:
        md = pilot.app.query_one(Markdown)
        raw = Markdown.get_stream(md)
        with pytest.raises(asyncio.CancelledError):  # the upstream behaviour we guard against
            await raw.stop()
        ours = Markdown.get_stream(md)
        await ours.write("kept **text**")
        await stop_stream(ours)  # no exception
        await md.update("final")
        assert md.source == "final"
