"""The context meter in the status line: how much of the context budget the chat uses.

It shows ``used/budget tok · percent``, coloured by band (below 60 %, 60-80 %, above
80 %) through the theme variables ``$meter-low``, ``$meter-mid`` and ``$meter-high``. The
exact figure comes after each turn; while the user types, the composer's text is added as a
calibrated estimate, and while a reply streams its tokens so far are added; an estimated
figure is shown with a leading ``~``.
"""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Label

from ollm_tui.core.budget import Band, Usage
from ollm_tui.ui.safe_text import safe

BANDS: tuple[Band, ...] = ("low", "mid", "high")


def meter_text(usage: Usage | None) -> str:
    """What the meter says, e.g. ``"812/2,924 tok · 28%"`` (``~`` when estimated)."""
    if usage is None:
        return ""
    mark = "" if usage.exact else "~"
    return f"{mark}{usage.used:,}/{usage.budget.available:,} tok · {usage.percent:.0f}%"


class ContextMeter(Label):
    """Used/budget tokens and the percentage, coloured by band."""

    exact: reactive[Usage | None] = reactive(None)
    """The last exact usage (after a turn, on opening a chat); None until counted."""
    typing: reactive[int] = reactive(0)
    """Estimated tokens of the composer's text as one more message."""
    inflight: reactive[int] = reactive(0)
    """Tokens of the reply streaming now."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("markup", False)
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.tooltip = (
            "Context budget: tokens the conversation uses of what is left after the system "
            "prompt and the reply reserve. ~ marks an estimate. F8 shows the details."
        )

    @property
    def usage(self) -> Usage | None:
        """The usage shown now: exact plus what is being typed or streamed."""
        if self.exact is None:
            return None
        return self.exact.plus(self.typing + self.inflight)

    @property
    def text(self) -> str:
        """What the meter shows, as plain text."""
        return meter_text(self.usage)

    def watch_exact(self) -> None:
        self._show()

    def watch_typing(self) -> None:
        self._show()

    def watch_inflight(self) -> None:
        self._show()

    def _show(self) -> None:
        usage = self.usage
        self.update(safe(meter_text(usage)))
        self.display = usage is not None
        band = usage.band if usage is not None else None
        for name in BANDS:
            self.set_class(band == name, f"-{name}")
