"""The model, tier and snapshot pickers: modal lists that return what the user chose.

They only choose; ``ui.switching`` does the switch (reload, divider, stored tier) and
``ui.compressing`` the restore of a snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ollm_tui.core.hardware import HardwareProbe, format_bytes
from ollm_tui.core.tiers import TierError, TierOption, TierPlan
from ollm_tui.engine.planning import load_all_profiles, place
from ollm_tui.engine.registry import ModelEntry, discover
from ollm_tui.engine.remote.models import is_remote_entry, server_entries
from ollm_tui.settings import Settings
from ollm_tui.ui.safe_text import safe

if TYPE_CHECKING:
    from ollm_tui.core.conversation import Snapshot

PICKER_BINDINGS: list[BindingType] = [
    Binding(
        "escape", "dismiss_picker", "Cancel", id="picker_cancel", tooltip="Close without switching."
    ),
]


def tier_row(option: TierOption, plan: TierPlan, current: int | None) -> str:
    """One line of the tier picker, e.g. ``"  8K  T2 Basic     n_ctx  6912   281 MiB  fits"``."""
    marks = []
    if option.size == plan.auto.size:
        marks.append("auto")
    if option.size == current:
        marks.append("in use")
    fit = "fits" if option.fits else "does not fit"
    warn = "  ⚠ over 80 % of memory" if option.warn else ""
    tag = f"  ({', '.join(marks)})" if marks else ""
    return (
        f"{option.label:>5}  T{option.tier} {option.tier_name:<8}  n_ctx {option.n_ctx:>6}  "
        f"{format_bytes(option.need):>9}  {fit}{warn}{tag}"
    )


class TierPicker(ModalScreen[int | None]):
    """Every offered size with its memory need; returns the chosen size (None: cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = PICKER_BINDINGS

    def __init__(self, plan: TierPlan, current: int | None, model: str) -> None:
        super().__init__()
        self.plan = plan
        self.current = current
        self.model = model

    def compose(self) -> ComposeResult:
        plan = self.plan
        nothing_fits = not any(o.fits for o in plan.options)
        options = [
            Option(
                safe(tier_row(o, plan, self.current)),
                id=str(o.size),
                # what does not fit is greyed out (the smallest stays pickable when nothing fits)
                disabled=not o.fits and not (nothing_fits and o is plan.options[0]),
            )
            for o in plan.options
        ]
        with Vertical(id="picker", classes="picker"):
            yield Static(safe(f"Context size for {self.model}"), classes="picker-title")
            yield Static(
                safe(f"Auto: {plan.auto_reason}"), id="tier-reason", classes="picker-reason"
            )
            for note in plan.notes:
                yield Static(safe(f"Note: {note}"), classes="picker-note")
            yield OptionList(*options, id="tier-options")
            yield Static(
                safe("Enter switches (the model reloads) · Esc cancels"), classes="picker-hint"
            )

    def on_mount(self) -> None:
        options = self.query_one("#tier-options", OptionList)
        sizes = [o.size for o in self.plan.options]
        if self.current in sizes:
            options.highlighted = sizes.index(self.current)
        options.focus()

    @on(OptionList.OptionSelected, "#tier-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0) or None)

    def action_dismiss_picker(self) -> None:
        """Close without choosing."""
        self.dismiss(None)


@dataclass(frozen=True)
class ModelRow:
    """A discovered model and, when it is readable, its tier plan."""

    entry: ModelEntry
    plan: TierPlan | None
    problem: str | None

    @property
    def text(self) -> str:
        """The picker line: name, size, architecture, quantisation, trained context, auto tier."""
        e = self.entry
        if e.error:
            return f"{e.name}  unusable: {e.error}"
        if is_remote_entry(e):
            return f"{e.name}  {e.note}"
        if e.info is None or self.plan is None:
            return f"{e.name}  {format_bytes(e.size_bytes)}  {self.problem or e.note or ''}"
        i = e.info
        fits = "fits" if self.plan.auto.fits else "does not fit"
        return (
            f"{e.name}  {format_bytes(e.size_bytes)} · {i.architecture} · {i.quantization} · "
            f"trained {i.context_length or '?'} · auto {self.plan.auto.label} ({fits})"
        )


def model_rows(settings: Settings, probe: HardwareProbe) -> list[ModelRow]:
    """Discover every model and plan it (blocking: run in a worker)."""
    snapshot = probe.snapshot()
    profiles = load_all_profiles(settings)
    base = settings.with_(tier=None, context_explicit=False)
    rows = []
    for entry in discover(settings):
        if entry.info is None:
            rows.append(ModelRow(entry, None, None))
            continue
        try:
            rows.append(ModelRow(entry, place(base, entry.info, snapshot, profiles).plan, None))
        except TierError as exc:
            rows.append(ModelRow(entry, None, str(exc)))
    return rows


class ModelPicker(ModalScreen[ModelEntry | None]):
    """Every discovered model; returns the chosen entry (None: cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = PICKER_BINDINGS

    def __init__(self, settings: Settings, probe: HardwareProbe, current: str | None) -> None:
        super().__init__()
        self.settings = settings
        self.probe = probe
        self.current = current
        self.rows: list[ModelRow] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="picker", classes="picker"):
            yield Static(safe("Model"), classes="picker-title")
            yield OptionList(Option(safe("Looking for models…"), disabled=True), id="model-options")
            yield Static(
                safe("Enter switches (the model reloads at its auto tier) · Esc cancels"),
                classes="picker-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#model-options", OptionList).focus()
        self._discover()

    @work(thread=True, exclusive=True, exit_on_error=False, group="discover")
    def _discover(self) -> None:
        rows = model_rows(self.settings, self.probe)
        self.app.call_from_thread(self._show, rows)
        if self.settings.servers:  # then the servers' models (a dead one: a greyed-out row)
            remote = [ModelRow(e, None, None) for e in server_entries(self.settings)]
            self.app.call_from_thread(self._show, rows + remote)

    def _show(self, rows: list[ModelRow]) -> None:
        self.rows = rows
        options = self.query_one("#model-options", OptionList)
        options.clear_options()
        if not rows:
            options.add_option(Option(safe("No models found"), disabled=True))
            return
        for i, row in enumerate(rows):
            usable = row.entry.usable and (row.plan is not None or row.entry.note is not None)
            mark = "● " if self.current and str(row.entry.path) == self.current else "  "
            options.add_option(Option(safe(mark + row.text), id=str(i), disabled=not usable))

    @on(OptionList.OptionSelected, "#model-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(self.rows[int(event.option.id)].entry)

    def action_dismiss_picker(self) -> None:
        """Close without choosing."""
        self.dismiss(None)


class SnapshotPicker(ModalScreen["Snapshot | None"]):
    """The open chat's snapshots, newest first; returns the chosen one (None: cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = PICKER_BINDINGS

    def __init__(self, snapshots: Sequence[Snapshot]) -> None:
        super().__init__()
        self.snapshots = list(snapshots)

    def compose(self) -> ComposeResult:
        if self.snapshots:
            options = [Option(safe(s.label), id=str(i)) for i, s in enumerate(self.snapshots)]
        else:
            options = [
                Option(
                    safe("No snapshots yet: one is taken before each compression"), disabled=True
                )
            ]
        with Vertical(id="picker", classes="picker"):
            yield Static(safe("Snapshots of this chat's context"), classes="picker-title")
            yield Static(
                safe(
                    "Restoring one makes the model see the chat as it was then; "
                    "every message stays in the transcript."
                ),
                classes="picker-reason",
            )
            yield OptionList(*options, id="snapshot-options")
            yield Static(safe("Enter restores · Esc cancels"), classes="picker-hint")

    def on_mount(self) -> None:
        self.query_one("#snapshot-options", OptionList).focus()

    @on(OptionList.OptionSelected, "#snapshot-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(self.snapshots[int(event.option.id)])

    def action_dismiss_picker(self) -> None:
        """Close without choosing."""
        self.dismiss(None)
