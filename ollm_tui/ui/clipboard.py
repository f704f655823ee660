"""What the copy keys copy, and honest wording for what they did.

Copying goes through ``App.copy_to_clipboard``, which writes an OSC 52 escape sequence to
the terminal. The app cannot know whether the terminal honoured it (many do, some ask, some
ignore it), so the toasts say what was *sent*, never that the clipboard now holds it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from textual.app import App


@functools.cache
def _parser() -> MarkdownIt:
    """The CommonMark parser, built on the first copy (markdown-it costs the first frame
    ~50 ms when imported with this module)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def code_blocks(markdown: str) -> list[str]:
    """The fenced code blocks of a Markdown text, in order, without the fences."""
    blocks = []
    for token in _parser().parse(markdown):
        if token.type == "fence":
            blocks.append(token.content.removesuffix("\n"))
    return blocks


def last_code_block(markdown: str) -> str | None:
    """The last fenced code block of ``markdown``, or None when there is none."""
    blocks = code_blocks(markdown)
    return blocks[-1] if blocks else None


def sent_note(text: str, what: str = "") -> str:
    """The toast after copying ``text``: what was sent, and that it needs terminal support."""
    n = len(text)
    unit = "character" if n == 1 else "characters"
    subject = f"{what} ({n} {unit})" if what else f"{n} {unit}"
    return f"Sent {subject} to the clipboard via OSC 52 (needs terminal support)"


def copy_text(app: App[object], text: str, what: str = "") -> None:
    """Send ``text`` to the clipboard (OSC 52) and say so; an empty text is refused."""
    if not text:
        app.notify("This message is empty: nothing was copied.", severity="warning")
        return
    app.copy_to_clipboard(text)
    app.notify(sent_note(text, what) if what else sent_note(text))


def copy_last_code(app: App[object], reply_text: str | None) -> None:
    """Copy the last fenced code block of the last reply (``None``: there is no reply)."""
    if reply_text is None:
        app.notify("No reply in this chat yet: nothing was copied.", severity="warning")
        return
    code = last_code_block(reply_text)
    if code is None:
        app.notify("No code block in the last reply", severity="warning")
        return
    copy_text(app, code, "the last code block")
