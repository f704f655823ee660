"""Terminal-safe display text: the one place that decides how untrusted text is shown.

Text from a model, a server, a file, a chat title or the user must never reach the terminal
as a control sequence. ``display`` maps text to a form that holds no terminal controls,
where every replaced character is a visible escape (the UI dims them using ``escapes``'s
spans). The stored text is never changed: only what is shown is.

What is replaced, and by what:

- C0 controls U+0000–U+001F except newline and tab: the Unicode Control Pictures
  (U+2400 + code: ESC is ``␛``, so ``ESC[2J`` shows as ``␛[2J``; BEL is ``␇``).
  ``\\r\\n`` is shown as ``\\n``; a lone carriage return as ``␍``.
- DEL U+007F: ``␡``.
- C1 controls U+0080–U+009F (CSI, OSC, DCS, ST in their 8-bit form): ``\\x9b``-style text.
- Bidirectional formatting characters, which can hide or reorder the text around them
  (the "Trojan Source" trick): the embeddings, overrides and isolates U+202A–U+202E and
  U+2066–U+2069, and the invisible marks LRM U+200E, RLM U+200F and ALM U+061C, as named
  marks such as ``⟪RLO⟫``. (Marks are kept visible too: the app does no bidi layout, and an
  invisible character that changes order in some terminals is a spoofing tool.)
- Lone surrogates U+D800–U+DFFF (a server's JSON can carry ``"\\ud800"``): ``\\ud800``-style
  text. They cannot be encoded for the terminal at all.

Not replaced: zero-width joiners (emoji and many scripts need them), other format
characters, and Unicode tag characters; they cannot move the cursor or reorder text.

The mapping is idempotent (no replacement contains a replaced character) and, apart from a
``\\r\\n`` split across two chunks, chunk-independent; ``DisplayStream`` handles that case,
so a streamed reply shows exactly what the whole text would.
"""

from __future__ import annotations

import re

BIDI_NAMES: dict[int, str] = {
    0x061C: "ALM",
    0x200E: "LRM",
    0x200F: "RLM",
    0x202A: "LRE",
    0x202B: "RLE",
    0x202C: "PDF",
    0x202D: "LRO",
    0x202E: "RLO",
    0x2066: "LRI",
    0x2067: "RLI",
    0x2068: "FSI",
    0x2069: "PDI",
}
"""The bidirectional formatting characters shown as named marks."""


def _replacements() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        if code not in (0x09, 0x0A):
            table[code] = chr(0x2400 + code)
    table[0x7F] = "\u2421"
    for code in range(0x80, 0xA0):
        table[code] = f"\\x{code:02x}"
    for code, name in BIDI_NAMES.items():
        table[code] = f"\u27ea{name}\u27eb"
    for code in range(0xD800, 0xE000):
        table[code] = f"\\u{code:04x}"
    return table


REPLACEMENTS: dict[int, str] = _replacements()
"""Code point -> its visible escape."""

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""One character to replace (a single class: the regex engine scans it fastest)."""

_TABLE = str.maketrans(REPLACEMENTS)


def is_safe(text: str) -> bool:
    """True when ``text`` holds nothing that ``display`` would change."""
    return _UNSAFE.search(text) is None


def display(text: str) -> str:
    """``text`` as it may be shown on a terminal: every control, C1 and bidi formatting
    character replaced by a visible escape (see the module's docstring)."""
    if _UNSAFE.search(text) is None:  # the common case: one scan, no copy
        return text
    return text.replace("\r\n", "\n").translate(_TABLE)


def escapes(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``display(text)`` and the ``(start, end)`` spans in it of each visible escape (for
    dimming). Adjacent escapes are merged into one span."""
    spans: list[tuple[int, int]] = []
    parts: list[str] = []
    last = 0
    length = 0
    for match in _UNSAFE.finditer(text):
        start, end = match.span()
        parts.append(text[last:start])
        length += start - last
        last = end
        if text[start] == "\r" and text.startswith("\n", end):
            continue  # \r\n: shown as the newline that follows, not as an escape
        shown = REPLACEMENTS[ord(text[start])]
        parts.append(shown)
        if spans and spans[-1][1] == length:
            spans[-1] = (spans[-1][0], length + len(shown))
        else:
            spans.append((length, length + len(shown)))
        length += len(shown)
    if not parts:
        return text, spans
    parts.append(text[last:])
    return "".join(parts), spans


_ONE_FOR_ONE = str.maketrans(
    {code: shown if len(shown) == 1 else "\ufffd" for code, shown in REPLACEMENTS.items()}
)


def display_columns(text: str) -> str:
    """``text`` with each character ``display`` would replace shown as exactly one visible
    character (its control picture, else U+FFFD): for a widget that maps positions in the
    real text one to one onto the screen while it is edited (the composer)."""
    if _UNSAFE.search(text) is None:
        return text
    return text.translate(_ONE_FOR_ONE)


class DisplayStream:
    """``display`` for text that arrives in chunks: the joined output of ``feed`` calls and
    a final ``flush`` equals ``display`` of the joined input (a trailing ``\\r`` is held
    back until the next chunk shows whether a ``\\n`` follows)."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, chunk: str) -> str:
        """The display form of ``chunk`` (after what was held back), minus a trailing CR."""
        text = self._pending + chunk
        if text.endswith("\r"):
            self._pending = "\r"
            text = text[:-1]
        else:
            self._pending = ""
        return display(text)

    def flush(self) -> str:
        """What was held back (a lone CR, shown as ``␍``), at the end of the stream."""
        text, self._pending = self._pending, ""
        return display(text)


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def json_escape(document: str) -> str:
    """A JSON document (``json.dumps(..., ensure_ascii=False)``) with DEL, C1, bidi and
    lone-surrogate characters written as ``\\uXXXX`` escapes too: ``json.dumps`` escapes only
    C0, and a consumer that prints a value it did not decode would otherwise pass them to
    its terminal. The decoded text is unchanged (these characters only occur inside strings)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", document)
