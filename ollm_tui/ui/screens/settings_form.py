"""The settings screen: the common keys of ``config.toml`` in a form, checked before saving.

Each field is checked with the same parser as the file
(:data:`ollm_tui.settings.config_file.KEYS`), so the
form and the file accept exactly the same values. Saving writes only the keys that changed
(keeping the rest of the file as written) and applies what can change at once: the theme,
the sampling settings and the system prompt. Threads, context size, flash attention and
model folders apply the next time ollm starts.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Switch

from ollm_tui.settings.config_file import KEYS_BY_NAME, ConfigValueError
from ollm_tui.ui.bindings import SETTINGS_BINDINGS
from ollm_tui.ui.safe_text import SafeInput, safe, safe_str

if TYPE_CHECKING:
    from ollm_tui.settings import Settings
    from ollm_tui.ui.app import OllmApp

FIELDS: tuple[tuple[str, str], ...] = (
    ("model_dirs", f"Model folders (separated by {os.pathsep})"),
    ("threads", "Threads"),
    ("context_size", "Context size (tokens, or 8k)"),
    ("temperature", "Temperature (0 to 5)"),
    ("max_tokens", "Longest reply (tokens)"),
    ("system_prompt", "System prompt"),
)
"""The text fields: config key and label. Flash attention and the theme have their own widgets."""

RESTART_KEYS = {"model_dirs", "threads", "context_size", "flash_attn"}
"""Keys whose new value is used from the next start."""


def current_text(settings: Settings, key: str) -> str:
    """A setting as the form shows it."""
    if key == "model_dirs":
        return os.pathsep.join(str(p) for p in settings.model_dirs)
    if key == "threads":
        return str(settings.n_threads)
    return str(getattr(settings, KEYS_BY_NAME[key].fields[0]))


def parse_field(key: str, text: str) -> tuple[Any, Any]:
    """(value for the file, value for Settings) of a form field; raises ConfigValueError."""
    text = text.strip()
    raw: Any = text
    if key == "model_dirs":
        raw = [p for p in text.split(os.pathsep) if p.strip()]
    elif key in {"threads", "max_tokens"}:
        try:
            raw = int(text)
        except ValueError:
            raise ConfigValueError(f"expected a whole number, got {text!r}") from None
    elif key == "temperature":
        try:
            raw = float(text)
        except ValueError:
            raise ConfigValueError(f"expected a number, got {text!r}") from None
    elif key == "context_size" and text.isdigit():
        raw = int(text)
    return raw, KEYS_BY_NAME[key].parse(raw)


class SettingsScreen(ModalScreen[bool]):
    """The form. Dismisses with True when something was saved."""

    BINDINGS: ClassVar[list[BindingType]] = SETTINGS_BINDINGS

    @property
    def ollm(self) -> OllmApp:
        """The app (typed)."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        settings = self.ollm.settings
        with VerticalScroll(id="settings-form", classes="dialog") as box:
            box.border_title = "Settings"
            box.border_subtitle = safe(str(settings.config_file))
            yield Label("", id="settings-error", classes="hint")
            for key, label in FIELDS:
                yield Label(label, classes="field-label")
                yield SafeInput(
                    current_text(settings, key), id=f"setting-{key}", classes="field", compact=True
                )
            with Horizontal(classes="switch-row"):
                yield Label("Flash attention", classes="field-label")
                yield Switch(settings.flash_attn, id="setting-flash_attn")
            yield Label("Theme", classes="field-label")
            themes = sorted(
                n for n in self.app.available_themes if not n.startswith("textual-ansi")
            )
            yield Select(
                [(safe_str(n), n) for n in themes],
                value=self.app.theme,
                allow_blank=False,
                id="setting-theme",
                compact=True,
            )
            yield Label(
                "Threads, context size, flash attention and model folders apply at the next start.",
                classes="note",
            )
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(f"#setting-{FIELDS[0][0]}", Input).focus()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(False)

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        """Check every field; save the changed ones, or say which field is wrong."""
        settings = self.ollm.settings
        file_values: dict[str, Any] = {}
        changes: dict[str, Any] = {}
        for key, label in FIELDS:
            field = self.query_one(f"#setting-{key}", Input)
            if field.value.strip() == current_text(settings, key):
                continue
            try:
                raw, value = parse_field(key, field.value)
            except ConfigValueError as exc:
                error = self.query_one("#settings-error", Label)
                error.update(safe(f"{label}: {exc}"))
                error.scroll_visible(animate=False)
                field.focus()
                return
            file_values[key] = raw
            for name in KEYS_BY_NAME[key].fields:
                changes[name] = value
        flash = self.query_one("#setting-flash_attn", Switch).value
        if flash != settings.flash_attn:
            file_values["flash_attn"] = changes["flash_attn"] = flash
        theme = self.query_one("#setting-theme", Select).value
        if isinstance(theme, str) and theme != self.app.theme:
            self.ollm.action_set_theme(theme)
        if file_values:
            self.ollm.workspace.apply_settings(file_values, changes)
        later = sorted(RESTART_KEYS & set(file_values))
        if later:
            self.notify(f"Saved. {', '.join(later)} apply at the next start.", markup=False)
        elif file_values:
            self.notify("Saved.")
        self.dismiss(bool(file_values) or isinstance(theme, str))
