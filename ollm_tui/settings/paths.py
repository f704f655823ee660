"""Where things live on disk: the platformdirs folders, and other tools' model folders.

Pure functions of the environment (and the home folder): nothing here reads or writes the
folders. Discovering the GGUF files inside the external folders is the engine's business
(``engine.external_models``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP_NAME = "ollm_tui"

KIND_HF = "hf"
KIND_LMSTUDIO = "lmstudio"
KIND_OLLAMA = "ollama"
"""The kinds of external model folders (``Settings.external_model_dirs``)."""


def data_dir(env: Mapping[str, str]) -> Path:
    """The data dir: ``OLLM_DATA_DIR``, else platformdirs' user data dir."""
    return Path(env.get("OLLM_DATA_DIR") or platformdirs.user_data_dir(APP_NAME))


def config_dir(env: Mapping[str, str]) -> Path:
    """The config dir: ``OLLM_CONFIG_DIR``, else platformdirs' user config dir."""
    return Path(env.get("OLLM_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME))


def log_dir(env: Mapping[str, str]) -> Path:
    """The log dir: ``OLLM_LOG_DIR``, else platformdirs' user log dir."""
    return Path(env.get("OLLM_LOG_DIR") or platformdirs.user_log_dir(APP_NAME))


def default_external_dirs(
    env: Mapping[str, str] | os._Environ[str], home: Path
) -> tuple[tuple[str, Path], ...]:
    """The usual places of the Hugging Face cache, LM Studio's models and Ollama's store."""
    dirs: list[tuple[str, Path]] = []
    if env.get("HF_HUB_CACHE"):
        dirs.append((KIND_HF, Path(env["HF_HUB_CACHE"]).expanduser()))
    elif env.get("HF_HOME"):
        dirs.append((KIND_HF, Path(env["HF_HOME"]).expanduser() / "hub"))
    else:
        dirs.append((KIND_HF, home / ".cache" / "huggingface" / "hub"))
    dirs.append((KIND_LMSTUDIO, home / ".lmstudio" / "models"))
    dirs.append((KIND_LMSTUDIO, home / ".cache" / "lm-studio" / "models"))
    if env.get("OLLAMA_MODELS"):
        dirs.append((KIND_OLLAMA, Path(env["OLLAMA_MODELS"]).expanduser()))
    else:
        dirs.append((KIND_OLLAMA, home / ".ollama" / "models"))
        dirs.append((KIND_OLLAMA, Path("/usr/share/ollama/.ollama/models")))
    return tuple(dirs)
