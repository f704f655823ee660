"""What the copy keys copy, and honest wording for what they did.

Copying goes through ``App.copy_to_clipboard``, which writes an OSC 52 escape sequence to
the terminal. The app cannot know whether the terminal honoured it (many do, some ask, some
ignore it), so the toasts say what was *sent*, never that the clipboard now holds it.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

_PARSER = MarkdownIt("commonmark")


def code_blocks(markdown: str) -> list[str]:
    """The fenced code blocks of a Markdown text, in order, without the fences."""
    blocks = []
    for token in _PARSER.parse(markdown):
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
