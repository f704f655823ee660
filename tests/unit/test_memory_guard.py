"""Memory levels: thresholds, hysteresis, one change per crossing, and the wording."""

from __future__ import annotations

from ollm_tui.core.hardware import DeviceMemory, GiB
from ollm_tui.core.memory_guard import Level, MemoryGuard


def dev(fraction: float, kind: str = "ram") -> DeviceMemory:
    total = 16 * GiB
    used = round(total * fraction)
    return DeviceMemory(kind, "x", total, used, total - used)  # type: ignore[arg-type]


def run(guard: MemoryGuard, fractions: list[float]) -> list[Level]:
    levels = []
    for f in fractions:
        guard.update(dev(f))
        levels.append(guard.level)
    return levels


def test_thresholds_going_up() -> None:
    assert run(MemoryGuard(), [0.5, 0.69, 0.70, 0.84, 0.85, 0.949, 0.95, 0.99]) == [
        Level.NORMAL,
        Level.NORMAL,
        Level.WARNING,
        Level.WARNING,
        Level.CRITICAL,
        Level.CRITICAL,
        Level.EMERGENCY,
        Level.EMERGENCY,
    ]


def test_hysteresis_holds_a_level_until_three_points_below() -> None:
    levels = run(MemoryGuard(), [0.71, 0.69, 0.675, 0.671, 0.669, 0.70, 0.68])
    assert levels == [
        Level.WARNING,
        Level.WARNING,
        Level.WARNING,
        Level.WARNING,
        Level.NORMAL,
        Level.WARNING,
        Level.WARNING,
    ]


def test_a_jump_down_skips_levels_and_a_jump_up_too() -> None:
    guard = MemoryGuard()
    change = guard.update(dev(0.97))
    assert change is not None and change.old == Level.NORMAL and change.new == Level.EMERGENCY
    assert run(guard, [0.93, 0.91, 0.80, 0.50]) == [
        Level.EMERGENCY,
        Level.CRITICAL,
        Level.WARNING,
        Level.NORMAL,
    ]


def test_hovering_at_a_threshold_gives_exactly_one_change() -> None:
    guard = MemoryGuard()
    changes = [guard.update(dev(f)) for f in [0.86, 0.84, 0.85, 0.83, 0.86, 0.825, 0.86]]
    assert [c.new for c in changes if c] == [Level.CRITICAL]


def test_severity_sticky_and_advice() -> None:
    guard = MemoryGuard()
    warn = guard.update(dev(0.75))
    crit = guard.update(dev(0.9, "gpu"))
    emer = guard.update(dev(0.96))
    back = guard.update(dev(0.2))
    assert warn and warn.severity == "warning" and not warn.sticky
    assert crit and crit.severity == "error" and "close other GPU programs" in crit.message
    assert (
        emer and emer.severity == "error" and emer.sticky and "smaller context tier" in emer.message
    )
    assert (
        back and back.severity == "information" and back.message.startswith("Memory back to normal")
    )
