"""Token accounting for one process: the counter of the loaded model, the cache, the budget.

Glue between the headless pieces (``core/tokens.py``, ``core/budget.py``, the SQLite cache
table) used the same way by the app and by ``ollm -p``. The cache is shared across model
switches; every key carries the tokenizer's fingerprint, so counts never cross models.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ollm_tui.core.token_cache import TokenCache
from ollm_tui.core.token_estimate import Calibration
from ollm_tui.core.tokens import Breakdown, Message, PromptCodec, TokenCounter
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.store.token_counts import TokenCountTable

log = logging.getLogger("ollm.tokens")


class Accounting:
    """Exact counts, estimates and the budget for whatever model is loaded."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.table = TokenCountTable(store) if store is not None else None
        self.cache = TokenCache(self.table)
        self.counter: TokenCounter | None = None
        self.source: Path | None = None
        """The model file the counter's tokenizer was loaded from."""

    def attach(self, codec: PromptCodec, source: Path | None = None) -> TokenCounter:
        """Count with ``codec`` (of the model file ``source``) from now on, closing the
        previous one if it owned a model."""
        self.detach()
        self.source = source
        calibration = Calibration()
        if self.table is not None:
            saved = self.table.load_calibration(codec.fingerprint)
            if saved is not None:
                sums, overhead = saved
                calibration.sums.update(sums)
                calibration.message_overhead = overhead
        self.counter = TokenCounter(codec, self.cache, calibration)
        return self.counter

    def counter_for(self, model: Path) -> TokenCounter | None:
        """The counter if its tokenizer was loaded from ``model``, else None."""
        counter = self.counter
        if counter is None or self.source is None or Path(self.source) != Path(model):
            return None
        return counter

    def detach(self) -> None:
        """Stop counting with the current codec (saving its calibration)."""
        counter, self.counter = self.counter, None
        if counter is None:
            return
        self._save_calibration(counter)
        counter.codec.close()

    def _save_calibration(self, counter: TokenCounter) -> None:
        if self.table is None:
            return
        cal = counter.calibration
        try:
            cal.settle()
            self.table.save_calibration(counter.fingerprint, cal.sums, cal.message_overhead)
        except Exception as exc:  # noqa: BLE001 - a closed store must not break shutdown
            log.warning("could not save the token calibration: %s", exc)

    def count(self, messages: Sequence[Message]) -> Breakdown:
        """The exact, cached count of ``messages``, part by part (what they take of the
        context is the context manager's to say: ``session/context.py`` ``measure``)."""
        counter = self.counter
        if counter is None:
            raise RuntimeError("no tokenizer is attached")
        return counter.count(messages)

    def estimate(self, text: str) -> int:
        """Calibrated estimate of one more message with ``text`` (0 for blank text)."""
        if not text.strip() or self.counter is None:
            return 0
        return self.counter.estimate_message(text)

    def figures(self) -> dict[str, Any]:
        """Cache figures of this process, and of the persistent table when there is one."""
        s = self.cache.stats
        out: dict[str, Any] = {
            "memory_hits": s.memory_hits,
            "disk_hits": s.disk_hits,
            "misses": s.misses,
            "hit_rate": round(s.hit_rate, 4),
            "seconds_counting": round(s.counted_seconds, 4),
            "seconds_saved": round(s.seconds_saved, 4),
            "memory_entries": len(self.cache),
        }
        if self.counter is not None:
            out["tokenizer"] = self.counter.fingerprint
            out["calibration_ratio"] = round(self.counter.calibration.ratio, 4)
            how = self.counter.codec.how
            if how:  # a server model: exact through its tokenizer, or an estimate
                out["counting"] = how
        if self.table is not None:
            out["stored"] = self.table.figures().as_dict()
        return out
