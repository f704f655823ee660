"""Discovery over Hugging Face, LM Studio and Ollama layouts built around the real starter GGUF."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ollm_tui.engine.external_models import default_external_dirs
from ollm_tui.engine.registry import discover, resolve
from ollm_tui.settings import Settings


def place_file(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        dest.write_bytes(src.read_bytes())


@pytest.fixture
def layouts(tmp_path: Path, smollm2_gguf: Path) -> dict[str, Path]:
    # Hugging Face: two revisions link the same blob
    hub = tmp_path / "hf" / "hub"
    repo = hub / "models--HuggingFaceTB--SmolLM2-135M-Instruct-GGUF"
    blob = repo / "blobs" / "0123abcd"
    place_file(smollm2_gguf, blob)
    for rev in ("aaa111", "bbb222"):
        link = repo / "snapshots" / rev / "smollm2-135m-instruct-q4_1.gguf"
        link.parent.mkdir(parents=True)
        link.symlink_to(Path("..") / ".." / "blobs" / "0123abcd")
    # LM Studio: publisher/repo/file.gguf, plus a file that is not a GGUF
    lms = tmp_path / "lmstudio" / "models"
    place_file(smollm2_gguf, lms / "lmstudio-community" / "SmolLM2-GGUF" / "SmolLM2-lms.gguf")
    (lms / "lmstudio-community" / "broken.gguf").write_text("not a model")
    # Ollama: a manifest naming the model blob, a broken manifest, one with a missing blob
    ollama = tmp_path / "ollama" / "models"
    digest = "sha256:" + "ab" * 32
    place_file(smollm2_gguf, ollama / "blobs" / digest.replace(":", "-"))
    manifests = ollama / "manifests" / "registry.ollama.ai"
    good = {
        "schemaVersion": 2,
        "layers": [
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "cd" * 32},
            {"mediaType": "application/vnd.ollama.image.model", "digest": digest},
        ],
    }
    for rel, body in (
        ("library/smollm2/135m", json.dumps(good)),
        ("someone/tiny/latest", json.dumps(good)),
        ("library/broken/latest", "{not json"),
        (
            "library/gone/latest",
            json.dumps(
                {
                    "layers": [
                        {
                            "mediaType": "application/vnd.ollama.image.model",
                            "digest": "sha256:" + "ef" * 32,
                        }
                    ]
                }
            ),
        ),
    ):
        path = manifests / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return {"hf": hub, "lmstudio": lms, "ollama": ollama}


def test_discovery_finds_models_other_tools_keep(
    settings: Settings, layouts: dict[str, Path]
) -> None:
    s = settings.with_(external_model_dirs=tuple(layouts.items()))
    entries = discover(s)
    by_source: dict[str, list[str]] = {}
    for e in entries:
        by_source.setdefault(e.source, []).append(e.name)
    # one file, though two revisions link it
    assert by_source["Hugging Face cache"] == ["smollm2-135m-instruct-q4_1"]
    assert by_source["LM Studio"] == ["broken", "SmolLM2-lms"]
    # the two Ollama manifests share one blob: listed once, under the first name
    assert by_source["Ollama"] == ["smollm2:135m"]
    broken = next(e for e in entries if e.name == "broken")
    assert not broken.usable and "not a GGUF" in (broken.error or "")
    ollama = next(e for e in entries if e.source == "Ollama")
    assert ollama.info is not None and ollama.info.architecture == "llama"


def test_a_namespaced_ollama_model_gets_its_namespace(
    settings: Settings, layouts: dict[str, Path]
) -> None:
    (
        layouts["ollama"] / "manifests" / "registry.ollama.ai" / "library" / "smollm2" / "135m"
    ).unlink()
    entries = discover(settings.with_(external_model_dirs=(("ollama", layouts["ollama"]),)))
    assert [e.name for e in entries if e.source == "Ollama"] == ["someone/tiny:latest"]


def test_resolve_an_ollama_name(settings: Settings, layouts: dict[str, Path]) -> None:
    s = settings.with_(external_model_dirs=(("ollama", layouts["ollama"]),))
    entry = resolve(s, "smollm2:135m")
    assert entry.source == "Ollama" and entry.path.name.startswith("sha256-")


def test_missing_folders_are_skipped(settings: Settings, tmp_path: Path) -> None:
    s = settings.with_(
        external_model_dirs=(("hf", tmp_path / "nope"), ("ollama", tmp_path / "nope2"))
    )
    assert all(e.source not in ("Hugging Face cache", "Ollama") for e in discover(s))


def test_default_locations(tmp_path: Path) -> None:
    dirs = default_external_dirs({}, tmp_path)
    assert ("hf", tmp_path / ".cache" / "huggingface" / "hub") in dirs
    assert ("lmstudio", tmp_path / ".lmstudio" / "models") in dirs
    assert ("ollama", tmp_path / ".ollama" / "models") in dirs
    env = {"HF_HOME": "/x/hf", "OLLAMA_MODELS": "/y/ollama"}
    dirs = default_external_dirs(env, tmp_path)
    assert ("hf", Path("/x/hf/hub")) in dirs and ("ollama", Path("/y/ollama")) in dirs
    assert Settings.from_env({"OLLM_SCAN_EXTERNAL": "0"}).external_model_dirs == ()
