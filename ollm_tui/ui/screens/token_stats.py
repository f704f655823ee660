"""The context-stats view (F8 or "context: Token stats" in the palette).

Shows the open chat's budget (limit, system prompt, checkpoints, reply reserve, used) and
the token-count cache's figures: memory and disk hits, misses, hit rate, time spent
counting and the time the cache saved, the stored entries, and the estimate calibration.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from ollm_tui.session.context import Measured
from ollm_tui.ui.safe_text import safe


def stats_lines(measured: Measured | None, figures: dict[str, Any]) -> list[str]:
    """The view's text, one line each (plain text)."""
    lines: list[str] = []
    if measured is None:
        lines.append("Budget: not counted yet (the model or its tokenizer is still loading).")
    else:
        usage, b = measured.usage, measured.usage.budget
        parts = measured.breakdown
        lines += [
            "Budget",
            f"  context limit      {b.limit:>10,}",
            f"  system prompt    − {b.system:>10,}",
            f"  checkpoints      − {b.checkpoints:>10,}",
            f"  reply reserve    − {b.reserve:>10,}",
            f"  budget           = {b.available:>10,}",
            f"  used               {usage.used:>10,}  ({usage.percent:.1f}%)",
        ]
        if parts is None:  # counted by the engine, without the cached counter
            lines.append(f"  prompt tokens      {measured.tokens:>10,}  (counted by the engine)")
        else:
            lines += [
                f"  prompt tokens      {parts.total:>10,}  ({len(parts.parts)} parts, "
                f"{parts.overhead} template overhead)",
                f"  last count         {parts.seconds * 1000:>10.1f} ms, "
                f"{parts.misses} parts tokenized",
            ]
        lines += [
            "",
        ]
    lookups = figures["memory_hits"] + figures["disk_hits"] + figures["misses"]
    lines += [
        "Token-count cache (this session)",
        f"  memory hits        {figures['memory_hits']:>10,}",
        f"  disk hits          {figures['disk_hits']:>10,}",
        f"  misses             {figures['misses']:>10,}",
        f"  hit rate           {100 * figures['hit_rate']:>9.1f}%  of {lookups:,} lookups",
        f"  time counting      {figures['seconds_counting']:>9.3f} s",
        f"  time saved         {figures['seconds_saved']:>9.3f} s (estimated)",
        f"  in memory          {figures['memory_entries']:>10,} entries",
    ]
    stored = figures.get("stored")
    if stored is not None:
        lines.append(
            f"  on disk            {stored['entries']:>10,} entries for "
            f"{stored['tokenizers']} tokenizer(s)"
        )
    if "tokenizer" in figures:
        lines += [
            "",
            f"Tokenizer {figures['tokenizer']}",
            f"  estimate calibration: exact = {figures['calibration_ratio']:.3f} × tiktoken",
        ]
        if "counting" in figures:
            lines.append(f"  counts: {figures['counting']}")
    return lines


class TokenStatsScreen(ModalScreen[None]):
    """A read-only panel with the figures; Esc or F8 closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f8", "dismiss", "Close", id="token_stats_close"),
    ]

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog token-stats") as box:
            box.border_title = "Context and token stats"
            yield Static(safe("\n".join(self.lines)), id="token-stats-body", markup=False)

    async def action_dismiss(self, result: None = None) -> None:
        """Close the panel."""
        self.dismiss(result)
