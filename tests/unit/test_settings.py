"""Settings from the environment and the value parsers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollm_tui.settings import Settings, SettingsError, default_threads, parse_context, usable_cores


def test_env_overrides(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "OLLM_DATA_DIR": str(tmp_path / "d"),
            "OLLM_CONFIG_DIR": str(tmp_path / "c"),
            "OLLM_LOG_DIR": str(tmp_path / "l"),
            "OLLM_THREADS": "3",
            "OLLM_CONTEXT": "8k",
            "OLLM_MODEL": "gemma",
            "OLLM_MODEL_DIRS": f"{tmp_path}/a:{tmp_path}/b",
        }
    )
    assert s.db_path == tmp_path / "d" / "ollm.db"
    assert s.log_file == tmp_path / "l" / "ollm.log"
    assert (s.n_threads, s.n_threads_batch, s.context_size, s.model) == (3, 3, 8192, "gemma")
    assert s.model_dirs == (tmp_path / "a", tmp_path / "b")


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="OLLM_THREADS"):
        Settings.from_env({"OLLM_THREADS": "-1"})


@pytest.mark.parametrize(("text", "n"), [("4096", 4096), ("4k", 4096), ("16K", 16384)])
def test_parse_context(text: str, n: int) -> None:
    assert parse_context(text, "x") == n


def test_default_threads_leaves_a_core_free() -> None:
    assert default_threads() == max(1, min(usable_cores() - 1, 8))


def test_flash_attention_switch() -> None:
    assert Settings.from_env({}).flash_attn is True
    assert Settings.from_env({"OLLM_FLASH_ATTN": "off"}).flash_attn is False
    with pytest.raises(SettingsError, match="OLLM_FLASH_ATTN"):
        Settings.from_env({"OLLM_FLASH_ATTN": "maybe"})
