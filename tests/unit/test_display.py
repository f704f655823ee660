"""The display sanitiser (core/display.py): every class of character, spans, streaming,
idempotence, and that the text it is given is never changed."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ollm_tui.core.display import (
    BIDI_NAMES,
    DisplayStream,
    display,
    display_columns,
    escapes,
    is_safe,
    json_escape,
)

BIDI_OVERRIDES = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]

HOSTILE = [
    "\x1b[2J\x1b[H",  # clear the screen, cursor home
    "\x1b]0;PWNED\x07",  # window title, BEL-terminated
    "\x1b]2;PWNED\x1b\\",  # window title, ST-terminated
    "\x1b]52;c;aGVsbG8=\x07",  # OSC 52: write the clipboard
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x1bP1$r0m\x1b\\",  # DCS
    "\x1b[10A\x1b[5C\x1b[s\x1b[u",  # cursor moves, save/restore
    "\x1b[?1049h\x1b[?25l\x1b[?1000h",  # alternate screen, hide cursor, mouse
    "\x9b2J\x9d0;PWNED\x9c",  # 8-bit CSI / OSC / ST
    "\x07\x08\x7f\x00",
    "abc\u202edcba\u202c",
    "\u2066x\u2069\u200e\u200f\u061c",
]

unsafe_char = st.sampled_from(
    [chr(c) for c in range(0x20) if c not in (9, 10)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + [chr(c) for c in BIDI_NAMES]
)
hostile_text = st.lists(
    st.one_of(st.text(max_size=8), unsafe_char, st.sampled_from(HOSTILE)), max_size=12
).map("".join)


def assert_terminal_safe(shown: str) -> None:
    """No C0 (but newline and tab), DEL, C1, bidi formatting character or lone surrogate."""
    for ch in shown:
        code = ord(ch)
        assert ch in "\n\t" or not (code < 0x20 or 0x7F <= code < 0xA0), repr(shown)
        assert code not in BIDI_NAMES, repr(shown)
        assert not 0xD800 <= code < 0xE000, repr(shown)


def test_escape_becomes_a_control_picture() -> None:
    assert display("\x1b[2J\x1b[H") == "␛[2J␛[H"
    assert display("\x1b]0;PWNED\x07") == "␛]0;PWNED␇"


def test_every_c0_but_newline_and_tab_is_a_control_picture() -> None:
    for code in range(0x20):
        shown = display(chr(code))
        if code in (9, 10):
            assert shown == chr(code)
        else:
            assert shown == chr(0x2400 + code)


def test_del_and_c1() -> None:
    assert display("\x7f") == "␡"
    assert display("\x9b2J") == "\\x9b2J"
    assert display("\x80\x9f") == "\\x80\\x9f"


def test_carriage_returns() -> None:
    assert display("a\r\nb") == "a\nb"
    assert display("a\rb") == "a␍b"
    assert display("a\r\r\nb") == "a␍\nb"


def test_bidi_controls_become_named_marks() -> None:
    assert display("a\u202eb") == "a⟪RLO⟫b"
    for code in BIDI_OVERRIDES:
        assert display(chr(code)) == f"⟪{BIDI_NAMES[code]}⟫"
    assert display("\u200e\u200f\u061c") == "⟪LRM⟫⟪RLM⟫⟪ALM⟫"


def test_lone_surrogates_are_shown_as_text() -> None:
    assert display("a\ud800b") == "a\\ud800b"


def test_what_is_kept() -> None:
    kept = "plain text, tab\tand newline\n, émoji 👩‍👩‍👧 (ZWJ), ½, 中文, עברית, ␛ itself"
    assert display(kept) is kept  # no copy when nothing changes
    assert is_safe(kept)


def test_spans_cover_exactly_the_escapes() -> None:
    shown, spans = escapes("a\x1b[2Jb\x9b\u202ec")
    assert shown == "a␛[2Jb\\x9b⟪RLO⟫c"
    assert [shown[s:e] for s, e in spans] == ["␛", "\\x9b⟪RLO⟫"]
    assert escapes("plain") == ("plain", [])
    assert escapes("a\r\nb") == ("a\nb", [])


@given(hostile_text)
@settings(max_examples=400)
def test_display_is_terminal_safe_and_idempotent(text: str) -> None:
    shown = display(text)
    assert_terminal_safe(shown)
    assert display(shown) == shown
    assert escapes(text)[0] == shown
    assert_terminal_safe(display_columns(text))
    assert len(display_columns(text)) == len(text)


@given(hostile_text)
@settings(max_examples=300)
def test_spans_are_the_replaced_parts(text: str) -> None:
    shown, spans = escapes(text)
    for start, end in spans:
        assert 0 <= start < end <= len(shown)
    assert spans == sorted(spans)
    # the text outside the spans is the text that was kept (apart from CRLF -> LF)
    outside = "".join(
        shown[a:b]
        for a, b in zip(
            [0] + [e for _, e in spans], [s for s, _ in spans] + [len(shown)], strict=True
        )
    )
    kept = "".join(ch for ch in text.replace("\r\n", "\n") if is_safe(ch))
    assert outside == kept


@given(st.lists(hostile_text, max_size=8))
@settings(max_examples=300)
def test_streaming_is_chunk_independent(chunks: list[str]) -> None:
    stream = DisplayStream()
    shown = "".join(stream.feed(c) for c in chunks) + stream.flush()
    assert shown == display("".join(chunks))


def test_a_crlf_split_across_chunks() -> None:
    stream = DisplayStream()
    assert stream.feed("line\r") == "line"
    assert stream.feed("\nnext\r") == "\nnext"
    assert stream.flush() == "␍"


@given(hostile_text)
@settings(max_examples=300)
def test_the_input_is_never_changed(text: str) -> None:
    before = str(text)
    display(text)
    escapes(text)
    assert text == before


@given(hostile_text)
@settings(max_examples=300)
def test_json_escape_keeps_the_exact_text(text: str) -> None:
    document = json_escape(json.dumps({"reply": text}, ensure_ascii=False))
    assert_terminal_safe(document)
    assert json.loads(document) == {"reply": text}


def test_json_dumps_leaves_c1_and_bidi_raw_which_json_escape_fixes() -> None:
    raw = json.dumps("\x9b\u202e\x1b", ensure_ascii=False)
    assert "\x9b" in raw and "\u202e" in raw and "\x1b" not in raw  # why json_escape exists
    assert json_escape(raw) == '"\\u009b\\u202e\\u001b"'
