"""What goes into a checkpoint's text: facts, the extractive fallback, and validation.

Pure text logic used by ``core/compression.py``'s ``Compressor``: the names, numbers,
paths and identifiers of user messages (``key_facts``) and how they are appended to a
summary within its cap; the extractive summary that replaces a model summary which fails
validation; the validation itself (``problem_with``: empty, not shorter, an echo of the
instruction, a replay of the transcript); the transcript and the instruction a model is
given.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from typing import Protocol

CountText = Callable[[str], int]
"""Exact tokens of a text with the loaded model's tokenizer."""

WORDS_PER_TOKEN = 0.7
"""Rough words per token, to tell the model a length it understands."""


class StoredMessage(Protocol):
    """What a summary needs of a stored message (``store.db.Message``)."""

    @property
    def id(self) -> int:
        """The stored message's id (grows with its position in the chat)."""
        ...

    @property
    def role(self) -> str:
        """``"user"`` or ``"assistant"``."""
        ...

    @property
    def content(self) -> str:
        """The message's text."""
        ...


# -- validation, key facts, the extractive fallback --------------------------------------

_FACT_PATTERNS = (
    r"`[^`\n]{1,60}`",  # anything in backticks
    r"(?:~|\.{1,2})?/?[\w.\-]+(?:/[\w.\-]+)+/?",  # paths with a slash
    r"\b[\w\-]+\.(?:py|js|ts|tsx|md|txt|json|toml|yaml|yml|ini|cfg|c|h|cpp|hpp|rs|go|java|sh|sql|html|css|gguf|csv|log)\b",
    r"\b[A-Za-z_]\w*\(\)",  # calls: name()
    r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b",  # snake_case
    r"\b[a-z]+[A-Z][A-Za-z0-9]*\b",  # camelCase
    r"\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+\b",  # PascalCase
    r"\b[A-Z][A-Z0-9_]{2,}\b",  # CONSTANTS, acronyms
    r"\b\d[\d,.:/\-]*\d%?|\b\d%",  # numbers of two digits or more, dates, versions
)
_FACT_RE = re.compile("|".join(f"(?:{p})" for p in _FACT_PATTERNS))
_NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)(?<![.!?]\n)\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)*")
_NOT_NAMES = {
    "I",
    "I'm",
    "I've",
    "The",
    "A",
    "An",
    "This",
    "That",
    "Please",
    "Thanks",
    "Yes",
    "No",
    "OK",
    "User",
    "Assistant",
    "Key",
    "Earlier",
}
_REPLAY_RE = re.compile(r"^\s*(?:User|Assistant)\s*:", re.MULTILINE)
"""A line opening like the transcript's turns: the model copied instead of summarising."""
_SENTENCE_RE = re.compile(r"(.+?[.!?])(?:\s|$)", re.DOTALL)


def key_facts(texts: Sequence[str]) -> list[str]:
    """Names, numbers, paths and code identifiers in ``texts``, first seen first, no repeats."""
    seen: dict[str, None] = {}
    for text in texts:
        found = [(m.start(), m.group(0)) for m in _FACT_RE.finditer(text)]
        found += [
            (m.start(), m.group(0)) for m in _NAME_RE.finditer(text) if m.group(0) not in _NOT_NAMES
        ]
        for _, raw in sorted(found):
            fact = raw.strip().rstrip(".,:;")
            if fact and fact.lower() not in (f.lower() for f in seen):
                seen[fact] = None
    return list(seen)


def first_sentence(text: str, limit: int = 200) -> str:
    """The first sentence of ``text`` on one line (cut at ``limit`` characters)."""
    flat = " ".join(text.split())
    match = _SENTENCE_RE.match(flat)
    sentence = match.group(1) if match else flat
    return sentence if len(sentence) <= limit else sentence[:limit].rsplit(" ", 1)[0] + "…"


def truncate_to(text: str, cap: int, count: CountText) -> str:
    """The longest word-boundary prefix of ``text`` with at most ``cap`` tokens."""
    if count(text) <= cap:
        return text
    words = text.split(" ")
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(" ".join(words[:mid])) <= cap:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo]).rstrip()


def with_key_facts(summary: str, facts: Sequence[str], cap: int, count: CountText) -> str:
    """``summary`` plus the ``facts`` it does not mention ("Key facts: ..."), within ``cap``."""
    lower = summary.lower()
    missing = [f for f in facts if f.lower() not in lower]
    if not missing:
        return summary
    added: list[str] = []
    for fact in missing:
        candidate = f"{summary.rstrip()}\nKey facts: {', '.join([*added, fact])}"
        if count(candidate) > cap:
            break
        added.append(fact)
    return f"{summary.rstrip()}\nKey facts: {', '.join(added)}" if added else summary


def extractive(
    user_texts: Sequence[str], other_text: str, cap: int, count: CountText, earlier: str = ""
) -> str:
    """The deterministic fallback: the first sentence of each user message, then the key
    facts of the user messages, cut to ``cap`` tokens. ``earlier`` (an older summary being
    rolled into this one) leads, cut to a third of the cap, and its facts follow the new
    ones; ``other_text`` fills in when there are no user messages."""
    sentences = [first_sentence(t) for t in user_texts if t.strip()]
    body = (
        " ".join(f"User asked: {s}" for s in sentences)
        if sentences
        else " ".join(other_text.split())
    )
    facts = key_facts([*user_texts, earlier] if earlier else user_texts)
    if earlier.strip():
        # its own "Earlier:" prefix and "Key facts:" line go (the facts are in ``facts``)
        kept = [ln for ln in earlier.splitlines() if not ln.startswith("Key facts:")]
        flat = re.sub(r"^(?:Earlier:\s*)+", "", " ".join(" ".join(kept).split()))
        lead = truncate_to(flat, max(1, cap // 3), count)
        body = f"Earlier: {lead}\n{body}" if lead else body
    text = f"{body}\nKey facts: {', '.join(facts)}" if facts else body
    if count(text) <= cap:
        return text
    # keep room for the facts first (they are what later turns ask about), then the sentences
    facts_line = truncate_to(f"Key facts: {', '.join(facts)}", cap // 2, count) if facts else ""
    room = cap - (count(facts_line) if facts_line else 0)
    head = truncate_to(body, max(0, room - 1), count)
    out = "\n".join(p for p in (head, facts_line) if p)
    return out if count(out) <= cap else truncate_to(out, cap, count)


def problem_with(
    summary: str, source_tokens: int, instruction: str, count: CountText, similarity: float
) -> str | None:
    """Why ``summary`` is unusable (None when it is fine)."""
    text = summary.strip()
    if not text:
        return "the summary was empty"
    if count(text) >= source_tokens:
        return "the summary was not shorter than its input"
    ratio = difflib.SequenceMatcher(None, text.lower(), instruction.lower()).ratio()
    if ratio >= similarity or instruction.strip().lower()[:60] in text.lower():
        return "the summary repeated the instruction"
    if _REPLAY_RE.search(text):
        return "the summary replayed the conversation instead of summarising it"
    return None


def transcript(messages: Sequence[StoredMessage]) -> str:
    """Messages as plain text for the summariser."""
    who = {"user": "User", "assistant": "Assistant"}
    return "\n\n".join(f"{who.get(m.role, m.role)}: {m.content.strip()}" for m in messages)


def instruction(cap: int, floor: int, kind: str, retry: bool = False) -> str:
    """The summarise instruction for a summary of at most ``cap`` tokens."""
    most = max(8, int(cap * WORDS_PER_TOKEN))
    least = int(floor * WORDS_PER_TOKEN)
    size = f"between {least} and {most} words" if 0 < least < most else f"at most {most} words"
    if retry:
        return (
            f"Write a short factual summary ({size}) of the {kind} the user sends. "
            "Mention every name, number, file path and code identifier. Output only the summary."
        )
    return (
        f"Summarise the {kind} below in {size}. Keep names, numbers, file paths and code "
        "identifiers exactly as written. Reply with the summary only."
    )


# -- the compressor ----------------------------------------------------------------------
