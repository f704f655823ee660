"""PLACEHOLDER (replaced by the md-doc branch): whole-document re-render, same API."""

from __future__ import annotations

from rich.console import Console
from rich.markdown import Markdown
from textual.strip import Strip

_CONSOLE = Console(force_terminal=True, color_system="truecolor", width=80, legacy_windows=False)


class MarkdownDoc:
    def __init__(self, source: str = "", *, code_theme: str = "monokai") -> None:
        self._source = source
        self._code_theme = code_theme
        self._cache: tuple[int, str, list[Strip]] | None = None

    @property
    def source(self) -> str:
        return self._source

    def append(self, text: str) -> None:
        self._source += text

    def set_source(self, text: str) -> None:
        self._source = text

    def lines(self, width: int, console: Console | None = None) -> list[Strip]:
        if self._cache and self._cache[0] == width and self._cache[1] == self._source:
            return self._cache[2]
        lines = render_markdown(self._source, width, console)
        self._cache = (width, self._source, lines)
        return lines

    def height(self, width: int, console: Console | None = None) -> int:
        return len(self.lines(width, console))

    def estimate_height(self, width: int) -> int:
        return sum(len(line) // max(width, 1) + 1 for line in self._source.split("\n"))


def render_markdown(source: str, width: int, console: Console | None = None) -> list[Strip]:
    console = console or _CONSOLE
    if not source:
        return []
    md = Markdown(source, hyperlinks=False)
    return [
        Strip(line, width) for line in console.render_lines(md, console.options.update_width(width))
    ]
