"""Memory levels with hysteresis: NORMAL < 70 % ≤ WARNING < 85 % ≤ CRITICAL < 95 % ≤ EMERGENCY.

A level is entered as soon as the share of device memory in use reaches its threshold, and
left downward only after the share drops 3 points below it, so a value hovering around a
threshold does not flap. ``MemoryGuard.update`` returns a ``LevelChange`` exactly when the
level changes (the UI shows one notification per change) and None otherwise. It never
resizes anything: memory pressure during a session only warns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ollm_tui.core.hardware import DeviceMemory, format_bytes


class Level(IntEnum):
    """How full the device the model lives on is."""

    NORMAL = 0
    WARNING = 1
    CRITICAL = 2
    EMERGENCY = 3


THRESHOLDS: tuple[float, float, float] = (0.70, 0.85, 0.95)
"""Where WARNING, CRITICAL and EMERGENCY begin (share of the device's memory in use)."""

HYSTERESIS = 0.03
"""How far below a level's threshold the share must drop before the level is left."""


@dataclass(frozen=True)
class LevelChange:
    """A change of level, with what the user should be told."""

    old: Level
    new: Level
    device: DeviceMemory

    @property
    def severity(self) -> str:
        """The notification severity: information, warning or error."""
        if self.new == Level.NORMAL:
            return "information"
        return "warning" if self.new == Level.WARNING else "error"

    @property
    def sticky(self) -> bool:
        """EMERGENCY stays on screen until dismissed."""
        return self.new == Level.EMERGENCY

    @property
    def message(self) -> str:
        """The notification text, with the advice the spec asks for."""
        d = self.device
        usage = (
            f"{d.label} {format_bytes(d.used)} of {format_bytes(d.total)} in use "
            f"({d.used_fraction:.0%})"
        )
        if self.new == Level.NORMAL:
            return f"Memory back to normal: {usage}."
        if self.new == Level.WARNING:
            return f"Memory is getting full: {usage}."
        gpu = d.kind == "gpu"
        advice = (
            "pick a smaller context tier, unload a model, or close other GPU programs"
            if gpu
            else "pick a smaller context tier, unload a model, or close other programs"
        )
        if self.new == Level.CRITICAL:
            return f"Memory is critical: {usage}. To free some: {advice}."
        return f"Memory emergency: {usage}; replies may fail or the system may swap. Now: {advice}."


class MemoryGuard:
    """Turns usage samples into levels, remembering the current one."""

    def __init__(
        self, thresholds: tuple[float, float, float] = THRESHOLDS, hysteresis: float = HYSTERESIS
    ) -> None:
        self.thresholds = thresholds
        self.hysteresis = hysteresis
        self.level = Level.NORMAL

    def level_for(self, fraction: float) -> Level:
        """The level ``fraction`` would give from the current level (no state change)."""
        level = int(self.level)
        while level > 0 and fraction < self.thresholds[level - 1] - self.hysteresis:
            level -= 1
        raw = sum(1 for t in self.thresholds if fraction + 1e-9 >= t)  # 0.85 may read 0.8499999
        return Level(max(level, raw))

    def update(self, device: DeviceMemory) -> LevelChange | None:
        """Take one sample of ``device``; a ``LevelChange`` when the level changed."""
        new = self.level_for(device.used_fraction)
        if new == self.level:
            return None
        change = LevelChange(self.level, new, device)
        self.level = new
        return change
