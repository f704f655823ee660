"""The persistent side of the token-count cache: tables ``token_counts`` and ``token_calibration``.

``token_counts`` maps (tokenizer fingerprint, content hash) to a token count; it is what
lets a restarted app count a long chat without tokenizing it again. ``token_calibration``
keeps each tokenizer's running estimate calibration. Both live in ``ollm.db`` (migration 2)
and go through the ``Store``'s public ``transaction`` and ``fetch_all`` (its connection and
lock).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ollm_tui.store.db import Store

_BATCH = 500
"""Hashes per ``IN (...)`` query (SQLite allows 999 parameters by default on old builds)."""


@dataclass(frozen=True)
class CacheFigures:
    """What the persistent token cache holds (for ``ollm doctor`` and the stats view)."""

    entries: int
    tokenizers: int
    tokens: int
    """Sum of the cached counts."""
    per_tokenizer: dict[str, int]
    """Entries per tokenizer fingerprint."""

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-able values."""
        return {
            "entries": self.entries,
            "tokenizers": self.tokenizers,
            "tokens": self.tokens,
            "per_tokenizer": dict(self.per_tokenizer),
        }


class TokenCountTable:
    """A ``CountStore`` (see ``core/token_cache.py``) over the chat database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get_many(self, fingerprint: str, hashes: Iterable[bytes]) -> dict[bytes, int]:
        """The stored counts among ``hashes`` for this tokenizer."""
        wanted = list(hashes)
        found: dict[bytes, int] = {}
        for i in range(0, len(wanted), _BATCH):
            chunk = wanted[i : i + _BATCH]
            marks = ",".join("?" * len(chunk))
            rows = self.store.fetch_all(
                "SELECT hash, tokens FROM token_counts "
                f"WHERE fingerprint = ? AND hash IN ({marks})",
                (fingerprint, *chunk),
            )
            found.update((bytes(h), int(n)) for h, n in rows)
        return found

    def put_many(self, fingerprint: str, counts: Mapping[bytes, int]) -> None:
        """Store counts for this tokenizer in one transaction."""
        if not counts:
            return
        with self.store.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO token_counts (fingerprint, hash, tokens) VALUES (?, ?, ?)",
                [(fingerprint, h, n) for h, n in counts.items()],
            )

    def load_calibration(self, fingerprint: str) -> tuple[dict[str, list[int]], float] | None:
        """({kind: [exact, estimate]}, message overhead) saved for this tokenizer, or None."""
        rows = self.store.fetch_all(
            "SELECT kind, exact, estimate, message_overhead FROM token_calibration "
            "WHERE fingerprint = ?",
            (fingerprint,),
        )
        if not rows:
            return None
        return {str(k): [int(e), int(r)] for k, e, r, _ in rows}, float(rows[0][3])

    def save_calibration(
        self, fingerprint: str, sums: Mapping[str, Sequence[int]], overhead: float
    ) -> None:
        """Remember this tokenizer's calibration sums (per text kind)."""
        now = time.time()
        with self.store.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO token_calibration "
                "(fingerprint, kind, exact, estimate, message_overhead, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(fingerprint, k, v[0], v[1], overhead, now) for k, v in sums.items()],
            )

    def figures(self) -> CacheFigures:
        """Entries, tokenizers and total tokens in the table."""
        rows = self.store.fetch_all(
            "SELECT fingerprint, COUNT(*), COALESCE(SUM(tokens), 0) FROM token_counts "
            "GROUP BY fingerprint"
        )
        per = {str(fp): int(n) for fp, n, _ in rows}
        return CacheFigures(
            entries=sum(per.values()),
            tokenizers=len(per),
            tokens=sum(int(t) for _, _, t in rows),
            per_tokenizer=per,
        )

    def clear(self) -> None:
        """Delete every cached count (calibration is kept)."""
        with self.store.transaction() as db:
            db.execute("DELETE FROM token_counts")


def cache_figures(store: Store) -> dict[str, Any]:
    """The persistent token cache's figures as a dict: for ``ollm doctor``."""
    return TokenCountTable(store).figures().as_dict()
