"""Which checkpoints get a divider in the transcript (ui/compressing.py)."""

from __future__ import annotations

from ollm_tui.core.conversation import Checkpoint
from ollm_tui.ui.compressing import shown_checkpoints


def cp(id: int, first: int, last: int, level: int = 3) -> Checkpoint:
    return Checkpoint(id, 1, level, f"summary {id}", 10, first, last, last - first + 1, 0.0)


def test_aged_and_merged_checkpoints_give_way_to_the_active_ones() -> None:
    old, aged = cp(1, 1, 10), cp(3, 1, 10, level=2)  # the same range, one level down
    second = cp(2, 11, 20)
    merged = cp(4, 1, 20, level=1)
    assert shown_checkpoints([old, second, aged], [aged, second]) == [second, aged]
    assert shown_checkpoints([old, second, aged, merged], [merged]) == [merged]


def test_undone_checkpoints_stay_shown() -> None:
    first, undone = cp(1, 1, 10), cp(2, 11, 20)
    assert shown_checkpoints([first, undone], [first]) == [first, undone]
    assert shown_checkpoints([first, undone], []) == [first, undone]
