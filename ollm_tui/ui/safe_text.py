"""The UI side of terminal-safe text: every untrusted string is shown through this module.

``core.display`` decides what is replaced; this module turns the result into what Textual
shows: ``safe`` gives a ``Content`` with the visible escapes dimmed (the ``escape`` style,
plain ``dim``), ``safe_rich`` the same as a Rich ``Text``, ``safe_markdown`` a Markdown
source, ``safe_str`` a plain string for APIs that take one (toasts, tooltips, border titles
given as text), and ``safe_line`` the same-length form the composer draws while the real
text is being edited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual.content import Content, Span
from textual.widgets import Input, TextArea

from ollm_tui.core.display import display, display_columns, escapes

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

ESCAPE_STYLE = "dim"
"""How a visible escape (``␛``, ``\\x9b``, ``⟪RLO⟫``) is drawn: dimmer than the text."""


def safe(text: str) -> Content:
    """``text`` as a ``Content`` (never parsed as markup) with its control, C1 and bidi
    characters shown as dimmed, visible escapes."""
    shown, spans = escapes(text)
    if not spans:
        return Content(shown)
    return Content(shown, [Span(start, end, ESCAPE_STYLE) for start, end in spans])


def safe_rich(text: str, style: Style | None = None) -> Text:
    """``safe`` for code that renders Rich objects itself (the transcript's lines): a Rich
    ``Text`` in ``style`` with the visible escapes dimmed."""
    shown, spans = escapes(text)
    out = Text(shown, style=style or "", end="")
    for start, end in spans:
        out.stylize(ESCAPE_STYLE, start, end)
    return out


def safe_str(text: str) -> str:
    """``text`` with visible escapes, as a plain string (for APIs that take a ``str``)."""
    return display(text)


def safe_markdown(source: str) -> str:
    """A Markdown source that holds no terminal controls (escapes visible, not dimmed)."""
    return display(source)


def safe_line(text: str) -> str:
    """``text`` with each unsafe character shown as exactly one visible character: for a
    widget that maps columns of the real text one to one onto the screen (the composer)."""
    return display_columns(text)


class SafeToasts:
    """Mixed into the app (before ``App``): every toast's message and title go through the
    sanitiser, whoever calls ``notify`` (a widget's ``notify`` calls the app's)."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """``App.notify`` with ``message`` and ``title`` made terminal-safe (markup that the
        app wrote itself stays markup: the sanitiser never touches brackets)."""
        super().notify(  # type: ignore[misc]
            display(message),
            title=display(title),
            severity=severity,
            timeout=timeout,
            markup=markup,
        )


class SafeInput(Input):
    """An ``Input`` that draws its value terminal-safe (one visible character for each
    unsafe one; the value itself, what is saved, is unchanged)."""

    @property
    def _value(self) -> Text:
        if self.password:
            return super()._value
        # one line: a newline (pasted) is drawn as a picture too, never sent to the screen
        shown = display_columns(self.value).replace("\n", "\u2424")
        text = Text(shown, no_wrap=True, overflow="ignore", end="")
        if self.highlighter is not None:
            text = self.highlighter(text)
        return text


class SafeTextArea(TextArea):
    """A ``TextArea`` that draws its lines terminal-safe (one visible character for each
    unsafe one, so columns still line up; the document is unchanged)."""

    def get_line(self, line_index: int) -> Text:
        """The line as drawn: its unsafe characters shown as visible ones."""
        line_string = self.document.get_line(line_index)
        return Text(display_columns(line_string), end="", no_wrap=True)
