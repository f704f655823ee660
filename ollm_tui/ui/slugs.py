"""Heading anchors as GitHub-flavoured Markdown (and Textual's Markdown widget) make them.

Textual keeps its slug rules in a private module; these are the same rules, kept here so
the docs pane and the guide search agree with the Markdown widget without importing it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from string import punctuation
from urllib.parse import quote

_REMOVABLE = punctuation.replace("-", "").replace("_", "")
_NONLINGUAL = (
    r"\U000024C2-\U0001F251"
    r"\U00002702-\U000027B0"
    r"\U0001F1E0-\U0001F1FF"
    r"\U0001F300-\U0001F5FF"
    r"\U0001F600-\U0001F64F"
    r"\U0001F680-\U0001F6FF"
    r"\U0001F900-\U0001F9FF"
    r"\u200D"
    r"\u2640-\u2642"
)
_STRIP = re.compile(
    f"[{_REMOVABLE}{_NONLINGUAL}]+"
)  # (as Textual writes it: "\\]" keeps a backslash)
_WHITESPACE = re.compile(r"\s")


def slug(text: str) -> str:
    """The anchor of a heading, e.g. ``"Where ollm looks"`` -> ``"where-ollm-looks"``."""
    return quote(_WHITESPACE.sub("-", _STRIP.sub("", text.strip().lower())))


class Slugs:
    """Unique anchors within one page: the second "Usage" heading is ``usage-1``."""

    def __init__(self) -> None:
        self._used: defaultdict[str, int] = defaultdict(int)

    def slug(self, text: str) -> str:
        """The anchor of the next heading called ``text``."""
        base = slug(text)
        used = self._used[base]
        self._used[base] += 1
        return f"{base}-{used}" if used else base
