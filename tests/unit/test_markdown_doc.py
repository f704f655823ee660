"""``MarkdownDoc``: a streamed document ends identical to the full render, whatever the
chunking, and each append's work does not grow with the document."""

from __future__ import annotations

import random
import tracemalloc
from collections import Counter

import pytest
from rich.markdown import Markdown
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from ollm_tui.ui.widgets import markdown_doc
from ollm_tui.ui.widgets.markdown_doc import (
    CONSOLE,
    PIECE_LINES,
    MarkdownDoc,
    render_markdown,
)

WORDS = ["the", "model", "streams", "tokens", "into", "the", "pane", "while", "loop", "free"]


def markdown_tokens(n: int, seed: int = 1) -> list[str]:
    """Token-sized pieces of Markdown (the idea of ``bench/stream.py``'s generator, which
    cannot be imported here without the app): headings, paragraphs, lists, code, tables."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        kind = rng.choice(["para", "para", "list", "code", "heading", "table", "quote"])
        if kind == "heading":
            out += ["\n\n## ", rng.choice(WORDS).title(), " ", rng.choice(WORDS), "\n\n"]
        elif kind == "para":
            out += [(" " if i else "") + rng.choice(WORDS) for i in range(rng.randint(5, 40))]
            out.append("\n\n")
        elif kind == "list":
            for _ in range(rng.randint(2, 5)):
                out += ["- ", "**", rng.choice(WORDS), "**", " ", rng.choice(WORDS), "\n"]
            out.append("\n")
        elif kind == "table":
            out += ["| a | b |\n", "|---|---|\n"]
            out += [f"| {rng.choice(WORDS)} | {i} |\n" for i in range(rng.randint(1, 4))]
            out.append("\n")
        elif kind == "quote":
            out += ["> ", rng.choice(WORDS), " ", rng.choice(WORDS), "\n", "lazy line\n\n"]
        else:
            out += ["```", "python", "\n"]
            for i in range(rng.randint(3, 12)):
                out += ["def", " f", str(i), "(", "x", "):", "\n", "    return", f" x * {i}\n"]
            out += ["```", "\n\n"]
    return out[:n]


CORPORA = {
    "generated": "".join(markdown_tokens(1500)),
    "lists": (
        "- one\n- two\n\n- three after a blank (loose)\n\n  a second paragraph\n"
        "- four\n  - nested a\n  - nested b\n\n    nested para\n- five\n\n"
        "1. first\n2. second\n\n3. third\n\n10) other delimiter\n\n"
        "* star\n+ plus\n\nafter the lists\n"
    ),
    "big list": "".join(f"{i + 1}. item {i} {'with more' * (i % 3)}\n" for i in range(100))
    + "\n"
    + "".join(f"- bullet {i}\n" + ("\n  continued\n" if i % 9 == 0 else "") for i in range(80))
    + "\nend\n",
    "setext": "Title\n===\n\nSub\n---\n\npara\nthat continues\n---\n\nnot a heading\n\n***\n",
    "fences": (
        "```python\ndef f():\n    return 1\n```\n\ntext\n~~~\nunclosed tilde ``` inside\n\n"
        "still code\n~~~~\n\n````\n```\nnested marker\n````\n\n  ```\n  indented fence\n  ```\n"
        "\n```\nnever closed\n" + "".join(f"line {i}\n\n" for i in range(80))
    ),
    "interrupts": (
        "para\n# heading\npara\n#not heading\npara\n```` `x\nmore\n\npara\n***\npara\n***x\n"
        "para\n> quote\npara\n<div>\nhtml\n</div>\n\npara\n- item\n\npara\n1. item\n"
    ),
    "tables": (
        "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\npara\n| x | y |\n|:-|-:|\n| 5 | 6 |\n"
        "| not | a | table |\n|---|---|\n\n| h |\n| - |\nrow without pipes\n\nafter\n"
    ),
    "quotes": "> a\n> b\nlazy\n\n> c\n>\n> > nested\n\n> - list in quote\n> - two\n\ntext\n",
    "indented": "    code one\n\n    code after blank\n\n\n    more\npara\n\n    x\n  y\n",
    "html and refs": (
        "<div>\n*not md*\n</div>\n\n<!-- a\n\ncomment -->\n\n[ref]: /url\n'title'\n\n"
        "[ref]\n\n<script>\nx\n\ny\n</script>\nafter\n"
    ),
    "links and pictures": "see [a link](http://example.com) and <http://x.y>\n\n␛[2J ⟪RLO⟫ text\n",
}


def chunked(text: str, rng: random.Random) -> list[str]:
    """Random chunks of 1 to 12 chars."""
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, 12)
        out.append(text[i : i + n])
        i += n
    return out


def stream(text: str, width: int, seed: int, frame_every: float = 0.15) -> MarkdownDoc:
    """``text`` appended in random chunks, with ``lines(width)`` between some of them."""
    rng = random.Random(seed)
    doc = MarkdownDoc()
    for chunk in chunked(text, rng):
        doc.append(chunk)
        if rng.random() < frame_every:
            doc.lines(width)
    return doc


def assert_same(got: list[Strip], want: list[Strip]) -> None:
    assert [s.text for s in got] == [s.text for s in want]
    assert [list(s) for s in got] == [list(s) for s in want]  # segments: text and style


@pytest.mark.parametrize("width", [40, 100])
@pytest.mark.parametrize("name", sorted(CORPORA))
def test_streamed_equals_full_render(name: str, width: int) -> None:
    text = CORPORA[name]
    want = render_markdown(text, width)
    assert want
    for seed in range(3):
        doc = stream(text, width, seed)
        assert doc.source == text
        assert_same(doc.lines(width), want)
        assert doc.height(width) == len(want)


TRICKY_LINES = [
    *["", "", "para text", "more words", "# h", "#", "#x", "===", "---", "- a", "  - b"],
    *["    four", "1. x", "2. x2", "2) y", "> q", ">", "> - qi", "```", "```py", "``` x`"],
    *["~~~", "````", "  ```", "| a | b |", "|---|---|", "| 1 | 2 |", "<div>", "</div>"],
    *["<!--", "-->", "[r]: /u", "'t'", "***", "-", "* * *", "+ p", "lazy", "\tTab", "  two"],
    *["10. ten", "<script>", "</script>", "a | b", "x = 1", "-   wide"],
]


@pytest.mark.parametrize("seed", range(8))
def test_random_tricky_documents_stream_like_the_full_render(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Documents of lines that change meaning as the next line arrives (setext underlines,
    fences, lazy lines, tables, HTML), cut into pieces of 2 lines to exercise every seam."""
    monkeypatch.setattr(markdown_doc, "PIECE_LINES", 2)
    for case in range(25):
        rng = random.Random(seed * 1000 + case)
        text = "\n".join(rng.choice(TRICKY_LINES) for _ in range(rng.randint(1, 40)))
        text += rng.choice(["", "\n", "\n\n", "x"])
        width = rng.choice([20, 50])
        doc = MarkdownDoc()
        for chunk in chunked(text, rng):
            doc.append(chunk)
            if rng.random() < 0.5:
                doc.lines(width)
        assert_same(doc.lines(width), render_markdown(text, width))


@pytest.mark.parametrize(
    "chunks",
    [
        ["Title\n", "===\n"],  # a setext heading arriving late
        ["Title\n", "=", "==\n\nnext\n"],
        ["para\n#", "x\n"],  # a heading that is not one after all
        ["para\n| a | b |\n", "|---|---|\n", "| 1 | 2 |\n"],  # a table taking a paragraph line
        ["```\ncode\n", "more\n", "```", "\nafter\n"],  # unclosed, then closed
        ["```\ncode\n", "``` x\n", "```\n"],  # "``` x" does not close a fence
        ["- a\n\n", "- b\n\n", "c\n"],  # a list continuing after a blank line
        ["    code\n\n", "    more\n", "para\n"],
    ],
)
def test_handcrafted_chunkings(chunks: list[str]) -> None:
    for width in (40, 100):
        doc = MarkdownDoc()
        for chunk in chunks:
            doc.append(chunk)
            doc.lines(width)
        assert_same(doc.lines(width), render_markdown("".join(chunks), width))


@pytest.mark.parametrize("width", [40, 100])
def test_a_5000_line_fence_streams_in_bounded_pieces(width: int) -> None:
    text = "intro\n\n```\n" + "".join(f"line {i}\n" + "\n" * (i % 97 == 0) for i in range(5000))
    text += "```\n\nafter\n"
    want = render_markdown(text, width)
    doc = stream(text, width, seed=width, frame_every=0.004)
    assert_same(doc.lines(width), want)
    # The open piece is all that is parsed again: a few pieces' worth, not 5,000 lines.
    # (Up to _SCAN_EVERY chars may pile up between two frames before the tail is scanned.)
    bound = markdown_doc._SCAN_EVERY + 2 * PIECE_LINES * len("line 4999\n\n")
    assert doc.stats.max_parse_chars < bound < len(text) / 10
    assert len(doc._frozen) > 5000 // PIECE_LINES // 2


def test_pieces_of_a_plain_fence_join_without_seams() -> None:
    """Without highlighting (no language), a fence cut into pieces looks exactly like the
    same fence rendered whole by Rich: the seams drop the pieces' padding lines."""
    text = "```\n" + "".join(f"line {i}\n" + "\n\n" * (i % 50 == 0) for i in range(300)) + "```\n"
    whole = CONSOLE.render_lines(Markdown(text), CONSOLE.options.update_width(50))
    assert [s.text for s in render_markdown(text, 50)] == [Strip(line).text for line in whole]
    doc = MarkdownDoc(text)
    doc.lines(50)
    assert len(doc._frozen) > 3  # it really was cut


def test_each_finished_block_is_rendered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame after every append: every finished piece was rendered once (while it was the
    tail, and reused when it froze), and the parsed tail stays short."""
    renders: Counter[str] = Counter()
    real = markdown_doc.render_piece

    def counting(piece, *args):  # type: ignore[no-untyped-def]
        renders[piece.source] += 1
        return real(piece, *args)

    monkeypatch.setattr(markdown_doc, "render_piece", counting)
    blocks = [f"Paragraph {i}: " + " ".join(WORDS[: i % 9 + 1]) + "\n\n" for i in range(200)]
    blocks += [f"```\ncode {i}\n```\n\n" for i in range(50)]
    doc = MarkdownDoc()
    for block in blocks:
        for chunk in chunked(block, random.Random(len(block))):
            doc.append(chunk)
            doc.lines(80)
    finished = doc._frozen
    assert len(finished) == len(blocks) - 1
    assert all(renders[piece.source] == 1 for piece in finished)
    assert doc.stats.frozen_rendered == 0
    assert doc.stats.max_parse_chars < 3 * max(map(len, blocks))


def test_a_new_width_renders_the_frozen_blocks_again_once() -> None:
    text = CORPORA["generated"]
    doc = MarkdownDoc(text)
    doc.lines(40)
    before = doc.stats.frozen_rendered
    assert_same(doc.lines(100), render_markdown(text, 100))
    assert doc.stats.frozen_rendered - before == len(doc._frozen)
    doc.lines(100)
    assert doc.stats.frozen_rendered - before == len(doc._frozen)  # cached


def test_no_segment_carries_a_link() -> None:
    text = "[a link](http://example.com/x) and <http://auto.link>\n\n- [in a list](http://y)\n"
    lines = render_markdown(text, 80)
    assert "a link (http://example.com/x)" in "".join(s.text for s in lines)
    assert not [s for line in lines for s in line if s.style is not None and s.style.link]


def test_link_styles_are_stripped_even_when_rich_makes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def linking(source: str, code_theme: str) -> Markdown:
        return Markdown(source, code_theme=code_theme, hyperlinks=True)

    monkeypatch.setattr(markdown_doc, "_markdown", linking)
    lines = render_markdown("[a link](http://example.com/x)\n", 80)
    segments = [s for line in lines for s in line]
    assert "a link" in "".join(s.text for s in segments)
    assert not [s for s in segments if s.style is not None and s.style.link]
    linked = [Segment("x", Style(link="http://a", bold=True))]
    assert markdown_doc._unlink(linked) == [Segment("x", Style(bold=True))]


def test_the_shared_parser_markdown_is_richs_markdown() -> None:
    """``_Markdown`` skips Rich's ``__init__`` (it builds a parser per call): it must set
    the same attributes to the same values, or a Rich upgrade changed them."""
    source = CORPORA["generated"][:3000] + CORPORA["tables"]
    ours = vars(markdown_doc._Markdown(source, "monokai"))
    rich = vars(Markdown(source, code_theme="monokai", hyperlinks=False))
    assert ours.keys() == rich.keys()
    assert [t.as_dict() for t in ours.pop("parsed")] == [t.as_dict() for t in rich.pop("parsed")]
    assert ours == rich


def test_a_line_is_a_strip_with_lazy_caches() -> None:
    """``_Line`` answers like a ``Strip`` (its caches made on first use), for a fifth of the
    memory."""
    segments = [Segment("bold", Style(bold=True)), Segment(" text" + " " * 31)]
    line, strip = markdown_doc._Line(list(segments), 40), Strip(segments, 40)
    italic = Style(italic=True)
    assert line == strip and line.text == strip.text and line.cell_length == 40
    assert line.crop(2, 8) == strip.crop(2, 8)
    assert line.crop_extend(0, 50, None) == strip.crop_extend(0, 50, None)
    assert line.divide([5, 20]) == strip.divide([5, 20])
    assert line.apply_style(italic) == strip.apply_style(italic)
    assert line.extend_cell_length(60) == strip.extend_cell_length(60)
    assert line.render(CONSOLE) == strip.render(CONSOLE)
    assert line.link_ids == strip.link_ids
    with pytest.raises(AttributeError):
        line.no_such_attribute  # noqa: B018

    def bytes_each(make: type[Strip]) -> float:
        tracemalloc.start()
        kept = [make(list(segments), 40) for _ in range(2000)]
        size = tracemalloc.get_traced_memory()[0] / len(kept)
        tracemalloc.stop()
        return size

    assert bytes_each(markdown_doc._Line) < bytes_each(Strip) / 3


def test_control_pictures_pass_through_as_text() -> None:
    lines = render_markdown("␛[2J clear ⟪RLO⟫ and `␛]8;;x␛\\`\n", 80)
    text = "".join(s.text for line in lines for s in line)
    assert "␛[2J clear ⟪RLO⟫" in text and "␛]8;;x␛\\" in text
    assert "\x1b" not in text


def test_set_source_appends_or_replaces() -> None:
    doc = MarkdownDoc("# Title\n\nfirst para\n\n")
    doc.lines(60)
    rendered = doc.stats.blocks_rendered
    doc.set_source("# Title\n\nfirst para\n\nsecond para\n")
    assert doc.source.endswith("second para\n")
    assert_same(doc.lines(60), render_markdown(doc.source, 60))
    assert doc.stats.blocks_rendered == rendered + 1  # only the new block
    doc.set_source("other text\n")
    assert doc.source == "other text\n"
    assert_same(doc.lines(60), render_markdown("other text\n", 60))


def test_estimate_height_renders_nothing() -> None:
    doc = MarkdownDoc(CORPORA["generated"])
    estimate = doc.estimate_height(100)
    assert doc.stats.blocks_rendered == 0
    assert doc.height(100) / 2 < estimate < doc.height(100) * 2


def test_lines_are_padded_to_the_width_and_blocks_apart() -> None:
    lines = MarkdownDoc("# One\n\ntwo\n\n- three\n").lines(30)
    assert {s.cell_length for s in lines} == {30}
    assert [s.text.strip() for s in lines] == ["One", "", "two", "", "• three"]
    assert MarkdownDoc("").lines(30) == []
    # A block that renders to nothing (Rich skips HTML) is not set apart either.
    assert [s.text.strip() for s in MarkdownDoc("<div>\nx\n</div>\n\npa").lines(30)] == ["pa"]
