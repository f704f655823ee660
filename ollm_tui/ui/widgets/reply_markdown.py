"""A reply's Markdown widget, and stopping its stream safely (used by ``transcript.py``)."""

from __future__ import annotations

import asyncio

from textual.await_complete import AwaitComplete
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownBlock, MarkdownStream


async def stop_stream(stream: MarkdownStream) -> None:
    """Stop a Markdown stream, tolerating Textual's race with a stream task that never ran.

    ``MarkdownStream.stop()`` cancels its task and awaits it; when the task was created but
    not yet started (a short reply finishing within one drain), the await re-raises that
    cancellation in *our* task. That one is swallowed (the caller renders the full text
    next anyway); a real cancellation of the caller is passed on.
    """
    try:
        await stream.stop()
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


class ReplyMarkdown(Markdown):
    """A reply's Markdown. Its last block's bottom margin is removed in code, once the
    text is complete: a ``MarkdownBlock:last-child`` CSS rule would make Textual restyle
    every block of the reply each time a streamed block is mounted (quadratic)."""

    complete = False
    """True once the reply's text is all there (trim after every later change)."""

    def __init__(self, markdown: str = "", **kwargs: object) -> None:
        # Links are never opened from a reply: their text can differ from their target.
        # A click shows the target instead (``AssistantMessage.on_markdown_link_clicked``).
        super().__init__(markdown, open_links=False, **kwargs)  # type: ignore[arg-type]

    def update(self, markdown: str) -> AwaitComplete:
        """Replace the document, then trim the last block's margin (a non-empty one)."""
        if markdown:
            self.complete = True
        return self._then_trim(super().update(markdown))

    def append(self, markdown: str) -> AwaitComplete:
        """Append to the document (a stream's last append can land after it stopped)."""
        return self._then_trim(super().append(markdown))

    def _then_trim(self, change: AwaitComplete) -> AwaitComplete:
        async def then() -> None:
            await change
            if self.complete:
                self.trim_last_block()

        return AwaitComplete(then())

    def trim_last_block(self) -> None:
        """No blank line under the reply's last block (and the usual one under the rest)."""
        self.complete = True
        blocks = [c for c in self.children if isinstance(c, MarkdownBlock)]
        for block in blocks[:-1]:
            if block.styles.inline.has_rule("margin"):
                block.styles.inline.clear_rule("margin")
                block.refresh(layout=True)
        if blocks:
            margin = blocks[-1].styles.margin
            if margin.bottom:
                blocks[-1].styles.margin = (margin.top, margin.right, 0, margin.left)
