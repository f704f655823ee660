"""The memory meter in the status line, and the memory guard's notifications.

Every ``interval`` seconds (``Settings.memory_sample_s``, default 2) a thread worker takes
one probe sample (under a millisecond here); the result is applied on the UI thread: the
meter shows the device the model lives on, used/total and the level as a colour class, and
``MemoryGuard`` decides whether the level changed, which shows exactly one notification.
"""

from __future__ import annotations

from textual import work
from textual.message import Message
from textual.widgets import Label

from ollm_tui.core.hardware import DeviceMemory, GiB, HardwareProbe, HardwareSnapshot
from ollm_tui.core.memory_guard import Level, LevelChange, MemoryGuard
from ollm_tui.ui.safe_text import safe, safe_str

STICKY_S = 24 * 3600.0
"""How long an EMERGENCY notification stays (until dismissed, in practice)."""

_LEVEL_CLASSES = {lvl: f"-{lvl.name.lower()}" for lvl in Level}


def meter_text(device: DeviceMemory) -> str:
    """``"RAM 3.1/23.5 GiB"``."""
    return f"{device.label} {device.used / GiB:.1f}/{device.total / GiB:.1f} GiB"


class MemoryMeter(Label):
    """Device, used/total and the memory level; samples in the background. A level change
    is posted upwards (:class:`LevelChanged`): the screen shows the toast."""

    class LevelChanged(Message):
        """The memory level changed (``change`` says how loudly to tell)."""

        def __init__(self, change: LevelChange) -> None:
            super().__init__()
            self.change = change

    def __init__(
        self,
        probe: HardwareProbe | None = None,
        interval: float = 2.0,
        device_label: str = "RAM",
        **kwargs: object,
    ) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.probe = probe or HardwareProbe()
        self.interval = interval
        self.device_label = device_label
        """Which device to watch: ``RAM``, ``unified`` or ``GPU0``… (the model's device)."""
        self.guard = MemoryGuard()
        self.last: DeviceMemory | None = None
        """The last sample of the watched device."""

    def on_mount(self) -> None:
        self.call_after_refresh(self.sample)  # the probe's imports would delay the first frame
        self.set_interval(self.interval, self.sample)

    @work(thread=True, exclusive=True, exit_on_error=False, group="memory")
    def sample(self) -> None:
        """Take one sample in a thread and apply it on the UI thread."""
        snapshot = self.probe.snapshot()
        if self.is_attached:
            self.app.call_from_thread(self.apply, snapshot)

    def apply(self, snapshot: HardwareSnapshot) -> LevelChange | None:
        """Show ``snapshot`` and notify when the level changed."""
        device = snapshot.device(self.device_label) or snapshot.ram
        self.last = device
        if device.total <= 0:
            self.update(safe("memory ?"))
            return None
        change = self.guard.update(device)
        self.update(safe(meter_text(device)))
        for level, css in _LEVEL_CLASSES.items():
            self.set_class(self.guard.level == level, css)
        self.tooltip = safe_str(
            f"{device.name}: {device.used_fraction:.0%} in use ({self.guard.level.name})"
        )
        if change is not None:
            self.post_message(self.LevelChanged(change))  # the screen toasts it
        return change
