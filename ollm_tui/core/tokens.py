"""Exact token counts of message lists, cached per tokenizer, with a per-message breakdown.

The exact count of a message list is the length of the token list the engine feeds: the
chat template renders the messages into one prompt text, which is tokenized with special
tokens parsed (plus BOS where the model wants one). Tokenizing the whole prompt every time
is slow for long chats (1.4 M chars/s on SmolLM2, 0.3 M on Gemma), so the prompt is cut
into parts that can be counted separately and cached:

llama.cpp splits the text at every control token (``<|im_start|>``, ``<start_of_turn>``...)
before it runs BPE/SPM on the plain text between them, so cutting the prompt right before
a control token never changes the tokens on either side. ``split_prompt`` cuts before the
last control token between two messages' texts: each part is then one message with its
template framing (or a head/tail such as the generation prompt), and the counts of the
parts add up exactly to the count of the whole. A part is cached by the hash of its
rendered text, so editing one message misses only its own part, and a part whose framing
depends on its neighbours (Gemma folds the system prompt into the first user turn) is
keyed by what the template actually produced. Templates without control tokens between
messages (the ``plain`` format) give fewer, larger parts; the sum is still exact.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import NamedTuple, Protocol

from ollm_tui.core.token_cache import TokenCache, content_hash
from ollm_tui.core.token_estimate import Calibration

Message = dict[str, str]
"""A chat message: ``{"role": ..., "content": ...}``."""

PROBE_MESSAGE: Message = {"role": "user", "content": "."}
"""The one-message conversation against which the system prompt's cost is measured."""

MEMO_SIZE = 8
"""Whole message lists whose breakdown is remembered (a repeated count is then a hash)."""

CALIBRATE_PARTS_PER_COUNT = 64
"""At most this many fresh parts per count feed the estimate calibration (keeps cold counts
fast)."""


class PromptCodec(Protocol):
    """A model's tokenizer together with the chat format the engine renders prompts with."""

    @property
    def fingerprint(self) -> str:
        """Identifies the tokenizer: equal fingerprints give equal counts for equal text."""
        ...

    @property
    def specials(self) -> tuple[str, ...]:
        """Texts of the control tokens the chat format uses (cut points for ``split_prompt``)."""
        ...

    def render(self, messages: Sequence[Message]) -> str:
        """The exact prompt text the engine feeds for ``messages``."""
        ...

    def count(self, text: str) -> int:
        """Tokens of ``text`` with special tokens parsed and no BOS added."""
        ...

    def bos_tokens(self, text: str) -> int:
        """1 when the engine adds a BOS token in front of this prompt text, else 0."""
        ...

    @property
    def exact(self) -> bool:
        """True when counts equal the engine's own (False: a server model's estimate)."""
        ...

    @property
    def how(self) -> str:
        """How counts are made, for the token statistics (empty: by the model's tokenizer)."""
        ...

    def close(self) -> None:
        """Free what the codec holds (a vocabulary it loaded). Safe to call twice."""
        ...


class ExactCodec:
    """Defaults for a ``PromptCodec`` that counts exactly and holds nothing to free."""

    exact: bool = True
    how: str = ""

    def close(self) -> None:
        """Nothing to free."""


class Span(NamedTuple):
    """A slice ``[start, end)`` of the prompt text and the messages whose text lies in it."""

    start: int
    end: int
    messages: tuple[int, ...]


def _find_contents(text: str, contents: Sequence[str]) -> list[tuple[int, int]] | None:
    """Where each message's text is in the prompt, in order (None if one is missing)."""
    spots = []
    cursor = 0
    for content in contents:
        at = text.find(content, cursor)
        needle = content
        if at < 0:  # some templates trim message text
            needle = content.strip()
            at = text.find(needle, cursor)
        if at < 0:
            return None
        spots.append((at, at + len(needle)))
        cursor = at + len(needle)
    return spots


def _sentinel(i: int) -> str:
    return f"\u27e6ollm{i}\u27e7"


def locate_contents(
    render: Callable[[Sequence[Message]], str], messages: Sequence[Message], text: str
) -> list[tuple[int, int]] | None:
    """Where each message's text lies in its rendered prompt ``text``, found structurally.

    The messages are rendered again with a unique marker in place of each text; where the
    template inserts texts verbatim (or trimmed), the prompt is the markers' frames with
    the texts between them, which is checked. None when that does not hold (the caller
    then searches for the texts, which can mistake a short text for template text).
    """
    try:
        marked = render([{**m, "content": _sentinel(i)} for i, m in enumerate(messages)])
    except Exception:  # noqa: BLE001 - a template may refuse the markers: search instead
        return None
    frames: list[str] = []
    cursor = 0
    for i in range(len(messages)):
        marker = _sentinel(i)
        at = marked.find(marker, cursor)
        if at < 0:
            return None
        frames.append(marked[cursor:at])
        cursor = at + len(marker)
    frames.append(marked[cursor:])
    for trim in (False, True):
        spots = []
        pos = 0
        pieces = []
        for frame, m in zip(frames, messages, strict=False):  # frames has one more: the tail
            content = m["content"].strip() if trim else m["content"]
            pos += len(frame)
            spots.append((pos, pos + len(content)))
            pos += len(content)
            pieces += [frame, content]
        pieces.append(frames[-1])
        if pos + len(frames[-1]) == len(text) and "".join(pieces) == text:
            return spots
    return None


def _last_special(text: str, start: int, end: int, specials: Sequence[str]) -> int | None:
    """The start of the last control-token text inside ``text[start:end]``."""
    best: int | None = None
    for special in specials:
        at = text.rfind(special, start, end)
        if at >= 0 and (best is None or at > best):
            best = at
    return best


def split_prompt(
    text: str,
    contents: Sequence[str],
    specials: Sequence[str],
    spots: list[tuple[int, int]] | None = None,
) -> list[Span]:
    """Cut the rendered prompt ``text`` into spans that tokenize independently.

    ``contents`` are the messages' texts in order. Cuts are made only before a control
    token (one of ``specials``) that lies between two messages' texts, before the first, or
    after the last; the spans cover ``text`` exactly, in order. ``spots`` (from
    ``locate_contents``) says where the texts are; without it they are searched for.
    """
    if not text:
        return []
    if spots is None and specials:
        spots = _find_contents(text, contents)
    if spots is None or not specials:
        return [Span(0, len(text), tuple(range(len(contents))))]
    cuts: list[int] = [0]
    frame_start = 0
    for at, end in [*spots, (len(text), len(text))]:
        cut = _last_special(text, frame_start, at, specials)
        if cut is not None and cut > cuts[-1]:
            cuts.append(cut)
        frame_start = end
    cuts.append(len(text))
    spans = []
    i = 0
    for a, b in pairwise(cuts):
        first = i
        while i < len(spots) and spots[i][0] < b:
            i += 1
        spans.append(Span(a, b, tuple(range(first, i))))
    return spans


class Part(NamedTuple):
    """One independently counted piece of the prompt."""

    messages: tuple[int, ...]
    """Indices of the messages whose text is in this part; () for template-only text."""
    tokens: int
    chars: int
    key: bytes
    """The content hash the count is cached under."""


class Breakdown(NamedTuple):
    """An exact count: the total, BOS, and the parts that add up to it."""

    total: int
    bos: int
    parts: tuple[Part, ...]
    seconds: float = 0.0
    """Time this count took."""
    misses: int = 0
    """Parts that had to be tokenized (not found in the cache)."""

    @property
    def overhead(self) -> int:
        """Tokens that belong to no message: BOS, the template's head and the reply opener."""
        return self.bos + sum(p.tokens for p in self.parts if not p.messages)

    def message_tokens(self, index: int) -> int:
        """Tokens of the part holding message ``index`` (shared if a part holds several)."""
        return sum(p.tokens for p in self.parts if index in p.messages)


class TokenCounter:
    """Exact, cached counts and calibrated estimates for one tokenizer (thread-safe)."""

    def __init__(
        self, codec: PromptCodec, cache: TokenCache, calibration: Calibration | None = None
    ) -> None:
        self.codec = codec
        self.cache = cache
        self.calibration = calibration or Calibration()
        self._system_cost: dict[str, int] = {}
        self._memo: OrderedDict[int, Breakdown] = OrderedDict()
        self._memo_lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        """The tokenizer's fingerprint (the first half of every cache key)."""
        return self.codec.fingerprint

    def count(self, messages: Sequence[Message]) -> Breakdown:
        """The exact prompt tokens the engine feeds for ``messages``, part by part."""
        start = time.perf_counter()
        # in-process only, so Python's own (randomised, 64-bit) string hash is enough here
        memo_key = hash(tuple((m["role"], m["content"]) for m in messages))
        with self._memo_lock:
            memo = self._memo.get(memo_key)
            if memo is not None:
                self._memo.move_to_end(memo_key)
        if memo is not None:
            self.cache.note_memo_hit(sum(p.chars for p in memo.parts))
            return memo._replace(seconds=time.perf_counter() - start, misses=0)
        text = self.codec.render(messages)
        specials = self.codec.specials
        spots = locate_contents(self.codec.render, messages, text) if specials else None
        spans = split_prompt(text, [m["content"] for m in messages], specials, spots)
        pieces = [text[s.start : s.end] for s in spans]
        keys = [content_hash(p) for p in pieces]
        sizes = {k: len(p) for k, p in zip(keys, pieces, strict=True)}
        found = self.cache.lookup(self.fingerprint, sizes)
        fresh: dict[bytes, int] = {}
        fresh_chars = 0
        tokenize_start = time.perf_counter()
        to_calibrate: list[tuple[str, int, str]] = []
        for span, piece, key in zip(spans, pieces, keys, strict=True):
            if key in found or key in fresh:
                continue
            fresh[key] = self.codec.count(piece)
            fresh_chars += len(piece)
            if len(span.messages) == 1 and len(to_calibrate) < CALIBRATE_PARTS_PER_COUNT:
                to_calibrate.append((piece, fresh[key], messages[span.messages[0]]["content"]))
        tokenize_s = time.perf_counter() - tokenize_start
        self.cache.add(self.fingerprint, fresh, fresh_chars, tokenize_s)
        for piece, tokens, content in to_calibrate:
            self._calibrate(piece, tokens, content)
        counts = {**found, **fresh}
        parts = tuple(
            Part(s.messages, counts[k], len(p), k)
            for s, p, k in zip(spans, pieces, keys, strict=True)
        )
        bos = self.codec.bos_tokens(text)
        result = Breakdown(
            total=bos + sum(p.tokens for p in parts),
            bos=bos,
            parts=parts,
            seconds=time.perf_counter() - start,
            misses=len(fresh),
        )
        with self._memo_lock:
            self._memo[memo_key] = result
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return result

    def total(self, messages: Sequence[Message]) -> int:
        """Just the exact total of ``count``."""
        return self.count(messages).total

    def system_tokens(self, system_prompt: str) -> int:
        """What the system prompt adds to a prompt (exact, cached): 0 for an empty one.

        The tokens of the system message's own part; for templates that fold the system
        prompt into the first user turn, the difference between a one-message conversation
        with and without it.
        """
        if not system_prompt:
            return 0
        cost = self._system_cost.get(system_prompt)
        if cost is None:
            with_system = self.count([{"role": "system", "content": system_prompt}, PROBE_MESSAGE])
            own = [p for p in with_system.parts if p.messages == (0,)]
            # a part of its own when the template gives it one, else the difference
            cost = own[0].tokens if own else max(0, with_system.total - self.total([PROBE_MESSAGE]))
            self._system_cost[system_prompt] = cost
        return cost

    def estimate_message(self, text: str) -> int:
        """A calibrated estimate of one more message with ``text`` (tiktoken; instant)."""
        return self.calibration.message(text)

    def _calibrate(self, piece: str, tokens: int, content: str) -> None:
        if not content.strip():
            return
        frame = piece.replace(content, "", 1) if content in piece else ""
        overhead = self.codec.count(frame) if frame else 0
        self.calibration.add_text_later(content, max(0, tokens - overhead))
        cal = self.calibration
        cal.message_overhead = 0.9 * cal.message_overhead + 0.1 * overhead
