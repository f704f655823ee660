"""The user guide names every binding id, config key, CLI flag and command, and every theme."""

from __future__ import annotations

import argparse

from ollm_tui.cli.args import build_parser
from ollm_tui.settings.config_file import KEYS
from ollm_tui.settings.resources import bundled_dir
from ollm_tui.ui.bindings import REGISTRY
from ollm_tui.ui.themes import APP_VARIABLE_SOURCES, load_themes


def page(name: str) -> str:
    return (bundled_dir("docs") / name).read_text(encoding="utf-8")


def test_every_binding_id_is_in_the_keys_page() -> None:
    text = page("keys.md")
    missing = [e.id for e in REGISTRY if f"`{e.id}`" not in text]
    assert not missing, f"keys.md does not name: {missing}"


def test_every_config_key_and_its_variable_is_in_the_configuration_page() -> None:
    text = page("configuration.md")
    missing = [k.name for k in KEYS if f"`{k.name}`" not in text]
    missing += [k.env for k in KEYS if k.env and f"`{k.env}`" not in text]
    assert not missing, f"configuration.md does not name: {missing}"


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    out: set[str] = set()
    for action in parser._actions:
        out.update(s for s in action.option_strings if s.startswith("--") and s != "--help")
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.add(f"ollm {name}")
                out |= _flags(sub)
    return out


def test_every_cli_flag_and_command_is_in_the_command_line_page() -> None:
    text = page("cli.md")
    missing = sorted(f for f in _flags(build_parser()) if f not in text)
    assert not missing, f"cli.md does not name: {missing}"


def test_every_shipped_theme_and_app_colour_is_in_the_themes_page() -> None:
    text = page("themes.md")
    themes, problems = load_themes([bundled_dir("themes")])
    assert problems == []
    missing = [t.name for t in themes if f"`{t.name}`" not in text]
    missing += [v for v in APP_VARIABLE_SOURCES if f"`{v}`" not in text]
    assert not missing, f"themes.md does not name: {missing}"
