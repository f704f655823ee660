"""The token-count cache: an in-memory LRU in front of an optional persistent table.

A key is (tokenizer fingerprint, content hash). Counts from one tokenizer are never served
for another, because the fingerprint is part of every lookup. The persistent side is any
``CountStore`` (the app uses the SQLite table in ``store/token_counts.py``); the cache keeps
figures (hits, misses, time spent counting) for the context-stats view and ``ollm doctor``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

DEFAULT_LRU_SIZE = 50_000
"""Entries kept in memory (a few MB: a key is ~40 bytes, a count an int)."""


def content_hash(text: str) -> bytes:
    """A 16-byte BLAKE2b digest of ``text`` (the second half of a cache key)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class CountStore(Protocol):
    """Where counts outlive the process (a SQLite table in the app)."""

    def get_many(self, fingerprint: str, hashes: Iterable[bytes]) -> dict[bytes, int]:
        """The stored counts among ``hashes`` for this tokenizer."""
        ...

    def put_many(self, fingerprint: str, counts: Mapping[bytes, int]) -> None:
        """Store counts for this tokenizer (existing keys are replaced)."""
        ...


@dataclass
class CacheStats:
    """What the cache has done since it was created."""

    memory_hits: int = 0
    disk_hits: int = 0
    misses: int = 0
    counted_chars: int = 0
    """Characters tokenized on misses."""
    counted_seconds: float = 0.0
    """Time spent tokenizing on misses."""
    cached_chars: int = 0
    """Characters whose count came from the cache instead of the tokenizer."""

    @property
    def hits(self) -> int:
        """Memory and disk hits together."""
        return self.memory_hits + self.disk_hits

    @property
    def hit_rate(self) -> float:
        """Hits / lookups (0 before the first lookup)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    @property
    def seconds_saved(self) -> float:
        """Tokenizing time the hits saved, at the measured speed of the misses."""
        if not self.counted_chars:
            return 0.0
        return self.cached_chars * self.counted_seconds / self.counted_chars


class TokenCache:
    """LRU of counts keyed by (fingerprint, content hash), backed by a ``CountStore``."""

    def __init__(self, backing: CountStore | None = None, size: int = DEFAULT_LRU_SIZE) -> None:
        self.backing = backing
        self.size = size
        self.stats = CacheStats()
        self._lru: OrderedDict[tuple[str, bytes], int] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._lru)

    def lookup(self, fingerprint: str, keys: Mapping[bytes, int]) -> dict[bytes, int]:
        """Counts for the hashes in ``keys`` (hash -> text length, for the figures).

        Memory first, then one batched read of the backing store. Hashes not found in
        either are missing from the result (and counted as misses).
        """
        found: dict[bytes, int] = {}
        wanted: list[bytes] = []
        with self._lock:
            for h in keys:
                count = self._lru.get((fingerprint, h))
                if count is None:
                    wanted.append(h)
                else:
                    self._lru.move_to_end((fingerprint, h))
                    found[h] = count
                    self.stats.memory_hits += 1
                    self.stats.cached_chars += keys[h]
        if wanted and self.backing is not None:
            stored = self.backing.get_many(fingerprint, wanted)
            with self._lock:
                for h, count in stored.items():
                    found[h] = count
                    self._remember(fingerprint, h, count)
                    self.stats.disk_hits += 1
                    self.stats.cached_chars += keys[h]
        with self._lock:
            self.stats.misses += sum(1 for h in wanted if h not in found)
        return found

    def add(
        self, fingerprint: str, counts: Mapping[bytes, int], chars: int, seconds: float
    ) -> None:
        """Remember fresh counts (``chars`` tokenized in ``seconds`` to make them)."""
        if not counts:
            return
        with self._lock:
            for h, count in counts.items():
                self._remember(fingerprint, h, count)
            self.stats.counted_chars += chars
            self.stats.counted_seconds += seconds
        if self.backing is not None:
            self.backing.put_many(fingerprint, counts)

    def note_memo_hit(self, chars: int) -> None:
        """A whole message list was counted before: one hit covering ``chars`` characters."""
        with self._lock:
            self.stats.memory_hits += 1
            self.stats.cached_chars += chars

    def _remember(self, fingerprint: str, h: bytes, count: int) -> None:
        self._lru[(fingerprint, h)] = count
        self._lru.move_to_end((fingerprint, h))
        while len(self._lru) > self.size:
            self._lru.popitem(last=False)
