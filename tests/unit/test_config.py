"""config.toml: values over defaults, under the environment; errors name file, line and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ollm_tui.cli import main
from ollm_tui.cli.common import EXIT_FAILURE, EXIT_OK
from ollm_tui.engine.factory import load_options
from ollm_tui.settings import DEFAULT_THEME, Settings, default_threads
from ollm_tui.settings.config_file import KEYS, read_config, set_value
from ollm_tui.store.db import Store


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "OLLM_DATA_DIR": str(tmp_path / "data"),
        "OLLM_CONFIG_DIR": str(tmp_path / "config"),
        "OLLM_LOG_DIR": str(tmp_path / "logs"),
        **extra,
    }


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_config_values_apply_and_the_environment_wins(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        'threads = 3\ncontext_size = "8k"\ntemperature = 0.7\nsystem_prompt = "Be brief."\n'
        'flash_attn = false\ntheme = "nord"\nmodel_dirs = ["~/gguf"]\n\n'
        '[keymap]\nnew_chat = "ctrl+t"\n',
    )
    s = Settings.from_env(env_for(tmp_path))
    assert (s.n_threads, s.n_threads_batch, s.context_size, s.temperature) == (3, 3, 8192, 0.7)
    assert (s.system_prompt, s.flash_attn, s.theme) == ("Be brief.", False, "nord")
    assert s.model_dirs == (Path("~/gguf").expanduser(),)
    assert s.keymap == {"new_chat": "ctrl+t"}
    assert s.config_problems == ()
    s = Settings.from_env(env_for(tmp_path, OLLM_THREADS="5", OLLM_CONTEXT="2048"))
    assert (s.n_threads, s.context_size, s.temperature) == (5, 2048, 0.7)


def test_a_bad_value_is_reported_with_file_line_and_key_and_falls_back(tmp_path: Path) -> None:
    path = write_config(tmp_path, '# mine\nthreads = 2\ntemperature = "hot"\nmax_tokens = 0\n')
    s = Settings.from_env(env_for(tmp_path))
    assert s.n_threads == 2  # the good key still applies
    assert s.temperature == Settings(tmp_path, tmp_path, tmp_path).temperature
    assert s.max_tokens == 1024
    assert len(s.config_problems) == 2
    assert s.config_problems[0].startswith(f"{path}, line 3, key 'temperature': expected a number")
    assert f"{path}, line 4, key 'max_tokens'" in s.config_problems[1]


def test_invalid_toml_starts_on_defaults_and_names_the_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, "threads = 77\ntheme = \n")
    s = Settings.from_env(env_for(tmp_path))
    assert s.n_threads == default_threads()  # threads = 77 on line 1 is not applied either
    assert s.theme == DEFAULT_THEME
    assert len(s.config_problems) == 1
    assert s.config_problems[0].startswith(f"{path}, line 2: not valid TOML")


def test_unknown_key_is_reported(tmp_path: Path) -> None:
    write_config(tmp_path, "\n\ncolour = 'red'\n")
    _, problems = read_config(tmp_path / "config" / "config.toml")
    assert [(p.line, p.key) for p in problems] == [(3, "colour")]


def test_missing_file_is_fine(tmp_path: Path) -> None:
    assert read_config(tmp_path / "nope.toml") == ({}, [])


def test_set_value_keeps_comments_and_edits_in_place(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, '# my settings\nthreads = 2  # two\n\n[keymap]\n# keys\nquit = "ctrl+x"\n'
    )
    set_value(path, "theme", "nord")
    set_value(path, "threads", 4)
    set_value(path, "new_chat", "ctrl+t", "keymap")
    set_value(path, "quit", None, "keymap")
    text = path.read_text(encoding="utf-8")
    assert "# my settings" in text and "# keys" in text
    values, problems = read_config(path)
    assert problems == []
    assert values == {
        "theme": "nord",
        "n_threads": 4,
        "n_threads_batch": 4,
        "keymap": {"new_chat": "ctrl+t"},
    }


def test_set_value_creates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    set_value(path, "a b", 'say "hi"', "keymap")
    assert read_config(path)[0] == {"keymap": {"a b": 'say "hi"'}}  # quoted key and string
    assert 'say \\"hi\\"' in path.read_text(encoding="utf-8")


def test_every_key_has_a_doc_and_a_settings_field() -> None:
    fields = Settings.__dataclass_fields__
    for key in KEYS:
        assert key.doc and all(f in fields for f in key.fields), key.name


# -- the command line ------------------------------------------------------------------------


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var, value in env_for(tmp_path).items():
        monkeypatch.setenv(var, value)
    for var in ("OLLM_MODEL", "OLLM_THREADS", "OLLM_CONTEXT", "OLLM_FLASH_ATTN", "OLLM_MODEL_DIRS"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_ollm_config_path_and_show(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "path"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == str(isolated / "config" / "config.toml")
    write_config(isolated, 'threads = 3\ntemperature = "x"\n[keymap]\nquit = "ctrl+x"\n')
    assert main(["config", "show"]) == EXIT_OK
    out, err = capsys.readouterr()
    assert "threads = 3" in out and 'quit = "ctrl+x"' in out and "temperature = 0.3" in out
    assert "line 2, key 'temperature'" in err


def test_ollm_export(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(isolated / "data" / "ollm.db")
    chat = store.create_chat("Lists")
    store.add_message(chat.id, "user", "Reverse a list?")
    store.add_message(chat.id, "assistant", "Use `items[::-1]`.", meta={"model": "tiny"})
    store.close()
    assert main(["export", "Lists"]) == EXIT_OK
    md = capsys.readouterr().out
    assert md.startswith("# Lists\n") and "## You\n\nReverse a list?" in md
    assert "## Assistant (tiny)\n\nUse `items[::-1]`." in md
    out_file = isolated / "lists.json"
    assert main(["export", str(chat.id), "--format", "json", "--out", str(out_file)]) == EXIT_OK
    data = json.loads(out_file.read_text(encoding="utf-8"))
    assert data["title"] == "Lists"
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert data["messages"][1]["meta"] == {"model": "tiny"}
    assert main(["export", "No such chat"]) == EXIT_FAILURE
    assert "no chat is called 'No such chat'" in capsys.readouterr().err


def test_a_context_size_in_the_file_overrides_the_tier_like_the_flag(tmp_path: Path) -> None:
    assert Settings.from_env(env_for(tmp_path)).context_explicit is False  # the tier decides
    write_config(tmp_path, 'context_size = "2k"\n')
    s = Settings.from_env(env_for(tmp_path))
    assert (s.context_size, s.context_explicit) == (2048, True)
    assert load_options(s).n_ctx == 2048
