"""Theme files (TOML) validated into Textual ``Theme`` objects.

A theme file is ``<name>.toml`` with a ``name``, ``dark`` (true/false), the colours
``primary`` (required), ``secondary``, ``accent``, ``foreground``, ``background``,
``surface``, ``panel``, ``boost``, ``warning``, ``error``, ``success``, and an optional
``[variables]`` table (app colours such as ``memory-warning`` or ``meter-high``). Shipped
themes come from ``themes/``; the user's from the config dir's ``themes/`` (same name wins).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

COLOUR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "warning",
    "error",
    "success",
)

APP_VARIABLE_SOURCES: dict[str, str] = {
    "memory-ok": "success",
    "memory-warning": "warning",
    "memory-critical": "error",
    "meter-low": "success",
    "meter-mid": "warning",
    "meter-high": "error",
    "marker-user": "primary",
    "marker-assistant": "secondary",
}
"""App colours and the theme colour each follows unless a theme's ``[variables]`` sets it."""

DEFAULT_COLOURS = {
    "primary": "#0178D4",
    "secondary": "#004578",
    "accent": "#ffa62b",
    "warning": "#ffa62b",
    "error": "#ba3c5b",
    "success": "#4EBF71",
}


def app_variables(colours: dict[str, str] | None = None) -> dict[str, str]:
    """The app colours for a theme with these base colours (defaults: ollm-dark's)."""
    base = {**DEFAULT_COLOURS, **(colours or {})}
    return {name: base[source] for name, source in APP_VARIABLE_SOURCES.items()}


class ThemeError(ValueError):
    """A theme file is not usable (the message names the file and what is wrong)."""


def _colour(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeError(f"{path.name}: {key} must be a colour string, got {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{path.name}: {key} is not a colour: {value!r}") from None
    return value


def load_theme_file(path: Path) -> Theme:
    """Read and check one theme file; raises ThemeError naming the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{path.name}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{path.name}: not valid TOML: {exc}") from None
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f"{path.name}: name must be a non-empty string")
    if "primary" not in data:
        raise ThemeError(f"{path.name}: primary colour is missing")
    unknown = set(data) - {"name", "dark", "variables", *COLOUR_KEYS}
    if unknown:
        raise ThemeError(f"{path.name}: unknown keys {', '.join(sorted(unknown))}")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{path.name}: dark must be true or false")
    colours = {k: _colour(path, k, data[k]) for k in COLOUR_KEYS if k in data}
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeError(f"{path.name}: [variables] must map names to colour strings")
    return Theme(name=name, dark=dark, variables={**app_variables(colours), **variables}, **colours)


def load_themes(folders: list[Path]) -> tuple[list[Theme], list[str]]:
    """Every usable theme in ``folders`` (later folders override earlier), and the problems."""
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeError as exc:
                problems.append(f"Theme {path}: {str(exc).split(': ', 1)[-1]}")
                continue
            themes[theme.name] = theme
    return list(themes.values()), problems
