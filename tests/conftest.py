"""Shared fixtures: an isolated data/config/log dir per test, and the real model files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose every directory lives under the test's tmp_path."""
    return Settings(
        data_dir=tmp_path / "data",
        config_dir=tmp_path / "config",
        log_dir=tmp_path / "logs",
        n_threads=1,
        n_threads_batch=1,
    )


@pytest.fixture
def store(settings: Settings):
    """A fresh chat database in the test's data dir."""
    s = Store(settings.db_path)
    yield s
    s.close()
