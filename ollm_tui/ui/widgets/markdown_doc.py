"""A streamed reply's Markdown as lines (``Strip``) that a Line-API view draws.

Textual's ``Markdown`` widget lays out every block on each append: a 2 MB reply took 79 s
and 1.1 GiB. ``MarkdownDoc`` instead splits the text into top-level blocks, renders each
finished block once per width with Rich and freezes it; only the open tail is parsed and
rendered again. Big fenced code blocks and big lists are cut into *pieces* of about
``PIECE_LINES`` source lines, so one huge block costs no more per frame than a small one.

The split is a pure function of the text, so a streamed document ends exactly as
``render_markdown`` of its whole text, however it was chunked (the tests check it).
Measured (``python -m bench.markdown_doc``, 2 MB in ~4-char tokens, a frame every 2,000):
a frame takes as long at the end as at the start (93 ms, ratio 1.04; Rich re-rendering the
whole text: 7x slower by 100 KB already), 49 s in all (Textual's widget: 79 s), 69 MiB.

Not cut into pieces: paragraphs, tables, block quotes, indented code, HTML. One huge such
block (rare in a reply) is parsed and rendered whole at every frame while it is open. A new
width renders every block again at the next ``lines`` (100 KB: 0.9 s, as one Rich render).

Parser: ``MarkdownIt("commonmark").enable(["strikethrough", "table"])``, exactly Rich's
own, shared by the split and by every render, so a block rendered alone has the structure
it had in place. Reference-style links do not resolve across blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.console import Console
from rich.markdown import Markdown
from rich.segment import Segment
from textual.strip import Strip

__all__ = ["PIECE_LINES", "MarkdownDoc", "MarkdownDocStats", "render_markdown"]

PIECE_LINES = 32
"""Source lines per piece of a big fence or list. Why 32: a frame re-renders the open piece,
and Rich's ``Syntax`` is slow: 32 highlighted Python lines take 7 ms here, 64 take 19 ms
(warm, 2 shared cores); a seam costs only the highlighter's state across it."""

_SCAN_EVERY = 4096
"""Chars appended without a ``lines()`` call before the tail is scanned for frozen blocks
anyway (then geometrically less often while nothing freezes), so it stays short."""

_PARSER = MarkdownIt("commonmark").enable(["strikethrough", "table"])

CONSOLE = Console(force_terminal=True, color_system="truecolor", width=80, legacy_windows=False)
"""The console used when none is given (its own width is not used: ``lines`` sets it)."""


@dataclass
class MarkdownDocStats:
    """Work counters, for tests and benchmarks."""

    blocks_rendered: int = 0
    """Pieces rendered with Rich (tail and frozen)."""
    frozen_rendered: int = 0
    """Of those, renders of frozen pieces (each once per width; 0 when the tail's render
    at the same width was reused)."""
    parses: int = 0
    """Block-level parses of the tail."""
    max_parse_chars: int = 0
    """The longest text one parse read: bounded by the open piece, not the document."""


@dataclass(frozen=True)
class _Piece:
    """A block, or a piece of a big fence or list, rendered on its own."""

    source: str
    kind: str
    """``fence``, ``list`` or ``block``."""
    join_prev: bool = False
    """Continues the previous piece: no blank line between (a fence also drops its top pad)."""
    join_next: bool = False
    """Continued by the next piece (a fence drops its bottom pad)."""


@dataclass
class _Block:
    kind: str
    start: int
    end: int
    cuts: list[int] = field(default_factory=list)
    """Lines where a new piece may start (item starts of a list, content lines of a fence)."""


def _blocks(lines: list[str]) -> list[_Block]:
    """The top-level blocks of ``lines`` (block rules only: inline parsing is not needed)."""
    tokens: list[Token] = []
    _PARSER.block.parse("\n".join(lines), _PARSER, {}, tokens)
    out: list[_Block] = []
    for token in tokens:
        if token.map is None or token.nesting == -1:
            continue
        start, end = token.map
        if token.level == 0:
            if token.type == "fence":
                out.append(_Block("fence", start, end, _fence_cuts(token, lines, start, end)))
            elif token.type in ("bullet_list_open", "ordered_list_open"):
                out.append(_Block("list", start, end))
            else:
                out.append(_Block("block", start, end))
        elif token.level == 1 and token.type == "list_item_open" and start > out[-1].start:
            out[-1].cuts.append(start)
    return out


def _fence_cuts(token: Token, lines: list[str], start: int, end: int) -> list[int]:
    """Content lines of a fence that may start a piece: those after a non-blank line (Rich
    strips a code block's trailing blank lines, so a piece never ends with one)."""
    content = token.content  # (its lines end with "\n" but the text's very last one)
    closed = end - start - 1 > content.count("\n") + bool(content and content[-1] != "\n")
    last = end - 1 if closed else end
    return [i for i in range(start + 2, last) if lines[i - 1].strip()]


def _pieces(block: _Block, lines: list[str], continues: bool) -> list[tuple[int, _Piece]]:
    """``block`` as (first line, piece) pairs. Greedy: a piece ends at the first cut at least
    ``PIECE_LINES`` after its start, a rule that depends on the lines up to the cut only, so
    the pieces of a growing block never change once the next one has begun."""
    first = block.start + 1 if block.kind == "fence" else block.start
    bounds = [first]
    for cut in block.cuts:
        if cut - bounds[-1] >= PIECE_LINES:
            bounds.append(cut)
    bounds.append(block.end)
    opener = lines[block.start : block.start + 1] if block.kind == "fence" else []
    out = []
    for n in range(len(bounds) - 1):
        start, end = bounds[n], bounds[n + 1]
        source = "\n".join(opener + lines[start:end])  # (each fence piece opens its fence)
        piece = _Piece(source, block.kind, bool(n) or continues, n < len(bounds) - 2)
        out.append((start if n else block.start, piece))
    return out


def _plain_blank(strip: Strip) -> bool:
    return not strip.text.strip() and not any(
        s.style is not None and (s.style.bgcolor is not None or s.style.reverse) for s in strip
    )


def _unlink(line: list[Segment]) -> list[Segment]:
    """Defensive: no segment may carry a link (no OSC 8 reaches the terminal)."""
    if not any(s.style is not None and s.style.link for s in line):
        return line
    return [
        Segment(s.text, s.style.update_link(None), s.control)
        if s.style is not None and s.style.link
        else s
        for s in line
    ]


class _Markdown(Markdown):
    """Rich's ``Markdown`` with the shared parser. Why: ``Markdown.__init__`` builds a new
    ``MarkdownIt`` per call, 1.8 ms, 15% of rendering a 100 KB reply in ~640 pieces. The
    attributes are Rich's own (a test compares them with a real ``Markdown``'s)."""

    def __init__(self, markup: str, code_theme: str) -> None:  # (no super(): that parser)
        self.markup = markup
        self.parsed = _PARSER.parse(markup)
        self.code_theme = code_theme
        self.justify = None
        self.style = "none"
        self.hyperlinks = False
        self.inline_code_lexer = None
        self.inline_code_theme = code_theme


def _markdown(source: str, code_theme: str) -> Markdown:
    return _Markdown(source, code_theme)


class _Line(Strip):
    """A ``Strip`` whose caches are made on first use. Why: ``Strip.__init__`` makes seven
    ``FIFOCache``s, 1.1 KB a line, about 70% of a rendered document's memory; a view uses
    them on the few lines it draws. Any other method is ``Strip``'s own."""

    __slots__ = ()

    def __init__(self, segments: list[Segment], cell_length: int) -> None:  # (no super())
        self._segments = segments
        self._cell_length = cell_length

    def __getattr__(self, name: str) -> object:
        # Reached only for a slot not set yet: a cache's first use sets them all.
        if name in Strip.__slots__:
            Strip.__init__(self, self._segments, self._cell_length)
            return object.__getattribute__(self, name)
        raise AttributeError(name)


def render_piece(piece: _Piece, width: int, console: Console, code_theme: str) -> list[Strip]:
    """One piece's lines: Rich's render, its outer blank lines dropped (Rich puts blank lines
    around some blocks but not others; ``MarkdownDoc`` puts exactly one between blocks), and
    at a fence's seams the code block's padding line, so the pieces of a fence join up."""
    markdown = _markdown(piece.source, code_theme)
    rendered = console.render_lines(markdown, console.options.update_width(width))
    strips: list[Strip] = [_Line(_unlink(line), width) for line in rendered]
    # (Not .simplify(): it merges a third of the segments but keeps more memory, 13.6
    # against 12.8 MiB for 200 KB, as the merged texts are new strings.)
    while strips and _plain_blank(strips[0]):
        del strips[0]
    while strips and _plain_blank(strips[-1]):
        del strips[-1]
    if piece.kind == "fence":
        strips = strips[1 if piece.join_prev else 0 : -1 if piece.join_next else None]
    return strips


class MarkdownDoc:
    """A Markdown document that grows by appends. Finished top-level blocks are rendered once
    per width and frozen; only the open tail block is re-parsed and re-rendered.

    Freezing rule: the tail's complete lines (up to its last newline) are parsed; every block
    but the last is frozen, and so is every finished piece of the last one when it is a big
    fence or list. Why that is safe: a block is closed only by a blank line or by the next
    block's first line, and on a complete line neither can be undone by later text (setext
    underlines, table delimiter rows and closing fences all act on the *open* last block;
    "para\n#" is a heading until an "x" follows, which is why the open line never counts).
    A fence's piece ends after a non-blank content line once the next content line is
    complete, a list's at a top-level item's first line: neither moves as text is added.
    The tail then restarts at a block start (inside a fence: after its opening line, which
    is parsed again with the tail), where nothing from before is open.
    """

    def __init__(self, source: str = "", *, code_theme: str = "monokai") -> None:
        self.code_theme = code_theme
        self.stats = MarkdownDocStats()
        self._reset()
        self.append(source)

    def _reset(self) -> None:
        self._done: list[str] = []  # the source before the tail
        self._pending: list[str] = []  # appended since the tail was last joined
        self._tail = ""
        self._prefix = ""  # an open fence's opening line + "\n", when the tail is inside it
        self._continues = False  # the tail's first block continues the last frozen piece
        self._newline = False  # a newline arrived since the last scan
        self._scan_at = _SCAN_EVERY
        self._chars = self._newlines = self._pending_chars = 0
        self._frozen: list[_Piece] = []
        self._flat: list[Strip] = []  # the frozen pieces' lines at self._width
        self._flat_pieces = 0
        self._width = 0
        self._console: Console | None = None
        self._cache: dict[_Piece, list[Strip]] = {}  # the tail's pieces at self._width

    @property
    def source(self) -> str:
        """The whole text so far."""
        self._join_tail()
        if len(self._done) > 1:
            self._done[:] = ["".join(self._done)]
        return (self._done[0] if self._done else "") + self._tail

    def append(self, text: str) -> None:
        """Add text at the end (cheap: it is parsed at the next ``lines`` call, or once
        ``_SCAN_EVERY`` chars have piled up)."""
        if not text:
            return
        self._pending.append(text)
        self._pending_chars += len(text)
        self._chars += len(text)
        newlines = text.count("\n")
        self._newlines += newlines
        self._newline = self._newline or bool(newlines)
        if len(self._tail) + self._pending_chars >= self._scan_at:
            self._scan()

    def set_source(self, text: str) -> None:
        """Replace the text; when it extends the current one, the same as ``append``."""
        current = self.source
        if text.startswith(current):
            self.append(text[len(current) :])
        else:
            self._reset()
            self.append(text)

    def _join_tail(self) -> str:
        if self._pending:
            self._tail += "".join(self._pending)
            self._pending.clear()
            self._pending_chars = 0
        return self._tail

    def _scan(self) -> None:
        """Freeze what the rule allows (see the class docstring); only the tail is read."""
        tail = self._join_tail()
        self._scan_at = len(self._tail) + max(_SCAN_EVERY, len(self._tail))
        if not self._newline:
            return
        self._newline = False
        complete = tail[: tail.rfind("\n") + 1]
        lines = (self._prefix + complete).split("\n")[:-1]
        blocks = self._parse(lines)
        if not blocks:
            return
        freeze: list[_Piece] = []
        for n, block in enumerate(blocks):
            pieces = _pieces(block, lines, continues=self._continues and not n)
            if n < len(blocks) - 1:
                freeze += [piece for _, piece in pieces]
        keep_line, keep = pieces[-1]
        freeze += [piece for _, piece in pieces[:-1]]
        if not freeze:
            return
        skip = len("\n".join(lines[:keep_line])) + 1 if keep_line else 0
        skip -= len(self._prefix)
        self._done.append(tail[:skip])
        self._tail = tail[skip:]
        self._continues = keep.join_prev
        self._prefix = (
            lines[blocks[-1].start] + "\n" if keep.join_prev and keep.kind == "fence" else ""
        )
        self._frozen += freeze
        self._scan_at = len(self._tail) + _SCAN_EVERY

    def _parse(self, lines: list[str]) -> list[_Block]:
        chars = sum(map(len, lines)) + len(lines)
        self.stats.parses += 1
        self.stats.max_parse_chars = max(self.stats.max_parse_chars, chars)
        return _blocks(lines)

    def _render(self, piece: _Piece, frozen: bool = False) -> list[Strip]:
        assert self._console is not None
        self.stats.blocks_rendered += 1
        self.stats.frozen_rendered += frozen
        return render_piece(piece, self._width, self._console, self.code_theme)

    def _tail_pieces(self) -> list[_Piece]:
        tail = self._join_tail()
        if not tail.strip() and not self._prefix:
            return []
        lines = (self._prefix + tail).split("\n")
        if lines[-1] == "":
            del lines[-1]
        out: list[_Piece] = []
        for n, block in enumerate(self._parse(lines)):
            out += [p for _, p in _pieces(block, lines, continues=self._continues and not n)]
        return out

    def _update(self, width: int, console: Console | None) -> list[list[Strip]]:
        """Bring the frozen lines to ``width``; the tail pieces' lines."""
        console = console or CONSOLE
        if width != self._width or console is not self._console:
            self._width, self._console = width, console
            self._flat, self._flat_pieces, self._cache = [], 0, {}
        self._scan()
        blank = Strip.blank(width)
        for piece in self._frozen[self._flat_pieces :]:
            strips = self._cache[piece] if piece in self._cache else self._render(piece, True)
            if strips and self._flat and not piece.join_prev:
                self._flat.append(blank)
            self._flat += strips
        self._flat_pieces = len(self._frozen)
        cache: dict[_Piece, list[Strip]] = {}
        out: list[list[Strip]] = []
        above = bool(self._flat)  # lines above: the next piece is set apart by a blank one
        for piece in self._tail_pieces():
            strips = self._cache[piece] if piece in self._cache else self._render(piece)
            cache[piece] = strips
            if strips and above and not piece.join_prev:
                out.append([blank])
            out.append(strips)
            above = above or bool(strips)
        self._cache = cache
        return out

    def lines(self, width: int, console: Console | None = None) -> list[Strip]:
        """All the document's lines at ``width`` (each padded to it). Frozen pieces come
        from the cache; a new width (or console) renders them again, here, once."""
        tail = self._update(width, console)
        return self._flat + [strip for strips in tail for strip in strips]

    def height(self, width: int, console: Console | None = None) -> int:
        """How many lines ``lines(width)`` has (renders what is not cached)."""
        return len(self._flat) + sum(map(len, self._update(width, console)))

    def estimate_height(self, width: int) -> int:
        """A rough height without rendering: source lines plus their wrapping."""
        return self._newlines + 1 + self._chars // max(1, width - 2)


def render_markdown(
    source: str, width: int, console: Console | None = None, *, code_theme: str = "monokai"
) -> list[Strip]:
    """The full render: what a finished reply must look like. A streamed ``MarkdownDoc``
    ends identical to this, since both split the text by the same rules."""
    return MarkdownDoc(source, code_theme=code_theme).lines(width, console)
