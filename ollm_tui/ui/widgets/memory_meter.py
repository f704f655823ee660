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
from ollm_tui.core.memory_guard import Level, MemoryGuard
from ollm_tui.ui.safe_text import safe, safe_str

STICKY_S = 24 * 3600.0
"""How long an EMERGENCY notification stays (until dismissed, in practice)."""

_LEVEL_CLASSES = {lvl: f"-{lvl.name.lower()}" for lvl in Level}


def meter_text(device: DeviceMemory) -> str:
    """``"RAM 3.1/23.5 GiB"``."""
    return f"{device.label} {device.used / GiB:.1f}/{device.total / GiB:.1f} GiB"


class MemoryMeter(Label):
    """Device, used/total and the memory level; samples in the background. A level change
    is judged by the chat's context manager: each sample is posted upwards (:class:`Sampled`),
    the screen has the guard judge it and shows a change of level as a toast."""

    class Sampled(Message):
        """A sample of the watched device (the chat's context manager judges its level)."""

        def __init__(self, device: DeviceMemory) -> None:
            super().__init__()
            self.device = device

    def __init__(
        self,
        probe: HardwareProbe | None = None,
        interval: float = 2.0,
        device_label: str = "RAM",
        guard: MemoryGuard | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.probe = probe or HardwareProbe()
        self.interval = interval
        self.device_label = device_label
        """Which device to watch: ``RAM``, ``unified`` or ``GPU0``… (the model's device)."""
        self.guard = guard or MemoryGuard()
        """The memory levels (shared with the context manager, which updates it)."""
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

    def apply(self, snapshot: HardwareSnapshot) -> None:
        """Show ``snapshot`` and post it up (the screen has its level judged)."""
        device = snapshot.device(self.device_label) or snapshot.ram
        self.last = device
        if device.total <= 0:
            self.update(safe("memory ?"))
            return
        self.update(safe(meter_text(device)))
        self.post_message(self.Sampled(device))

    def show_level(self) -> None:
        """Colour the meter by the guard's level (after the sample was judged)."""
        device = self.last
        for level, css in _LEVEL_CLASSES.items():
            self.set_class(self.guard.level == level, css)
        if device is not None:
            self.tooltip = safe_str(
                f"{device.name}: {device.used_fraction:.0%} in use ({self.guard.level.name})"
            )
