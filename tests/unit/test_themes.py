"""Theme files are validated into Textual themes; a broken one is reported by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollm_tui.settings import DEFAULT_THEME
from ollm_tui.settings.resources import bundled_dir
from ollm_tui.ui.themes import APP_VARIABLE_SOURCES, ThemeError, load_theme_file, load_themes


def test_at_least_four_shipped_themes_all_valid_dark_and_light() -> None:
    themes, problems = load_themes([bundled_dir("themes")])
    assert problems == []
    names = {t.name for t in themes}
    assert len(names) >= 4 and DEFAULT_THEME in names
    assert {t.dark for t in themes} == {True, False}
    for theme in themes:
        assert set(APP_VARIABLE_SOURCES) <= set(theme.variables), theme.name


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('name = "x"\n', "primary colour is missing"),
        ('primary = "blurple"\n', "not a colour"),
        ('primary = "#fff"\ndark = "yes"\n', "dark must be true or false"),
        ('primary = "#fff"\nbackgroud = "#000"\n', "unknown keys backgroud"),
        ("primary = \n", "not valid TOML"),
    ],
)
def test_broken_theme_files_are_refused_with_the_reason(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ThemeError, match=reason) as info:
        load_theme_file(path)
    assert "bad.toml" in str(info.value)


def test_user_theme_overrides_a_shipped_one_and_bad_files_are_listed(tmp_path: Path) -> None:
    (tmp_path / "nord.toml").write_text(
        'name = "nord"\nprimary = "#123456"\n[variables]\nmeter-high = "#ff00ff"\n'
    )
    (tmp_path / "bad.toml").write_text("primary = 3\n")
    themes, problems = load_themes([bundled_dir("themes"), tmp_path])
    nord = next(t for t in themes if t.name == "nord")
    assert nord.primary == "#123456" and nord.variables["meter-high"] == "#ff00ff"
    assert len(problems) == 1 and "bad.toml" in problems[0]
