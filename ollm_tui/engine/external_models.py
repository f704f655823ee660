"""GGUF files a user already has from other tools: the Hugging Face hub cache, LM Studio and
Ollama. Read only: nothing here writes to another tool's folders.

- **Hugging Face** (``huggingface-cli download``, ``hf_hub_download``):
  ``<hub>/models--ORG--REPO/snapshots/REV/**.gguf``, symbolic links into ``blobs/``. Each
  file is listed once even when several revisions link the same blob.
- **LM Studio**: ``<models dir>/PUBLISHER/REPO/*.gguf``.
- **Ollama**: ``<models>/manifests/REGISTRY/NAMESPACE/MODEL/TAG`` are JSON manifests; the
  layer whose ``mediaType`` is ``application/vnd.ollama.image.model`` names the GGUF blob
  ``blobs/sha256-<hex>``. The model is listed as ``MODEL:TAG`` (``NAMESPACE/MODEL:TAG``
  outside the ``library`` namespace).

Where these folders are comes from ``Settings.external_model_dirs`` (filled by
``Settings.from_env`` with ``settings.paths.default_external_dirs``: ``HF_HUB_CACHE``/
``HF_HOME``, ``OLLAMA_MODELS`` and the usual places under the home folder).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from ollm_tui.settings.paths import (
    KIND_HF,
    KIND_LMSTUDIO,
    KIND_OLLAMA,
    default_external_dirs,
)

__all__ = [
    "KIND_HF",
    "KIND_LMSTUDIO",
    "KIND_OLLAMA",
    "SOURCES",
    "default_external_dirs",
    "external_models",
    "hf_models",
    "lmstudio_models",
    "ollama_models",
]

log = logging.getLogger("ollm.registry")

SOURCES = {
    KIND_HF: "Hugging Face cache",
    KIND_LMSTUDIO: "LM Studio",
    KIND_OLLAMA: "Ollama",
}
"""Kind -> the source name shown in ``ollm models`` and the model picker."""

OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"


def hf_models(hub: Path) -> Iterator[tuple[str, Path]]:
    """(name, path) of every GGUF in a Hugging Face hub cache."""
    for repo in sorted(hub.glob("models--*")):
        snapshots = repo / "snapshots"
        if not snapshots.is_dir():
            continue
        for rev in sorted(snapshots.iterdir()):
            for path in sorted(rev.rglob("*.gguf")):
                yield path.name[:-5], path


def lmstudio_models(root: Path) -> Iterator[tuple[str, Path]]:
    """(name, path) of every GGUF under an LM Studio models folder."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(".gguf") and not name.startswith("."):
                yield name[:-5], Path(dirpath) / name


def ollama_models(root: Path) -> Iterator[tuple[str, Path]]:
    """(``model:tag``, blob path) for every Ollama manifest whose model layer exists."""
    manifests = root / "manifests"
    if not manifests.is_dir():
        return
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        parts = manifest.relative_to(manifests).parts  # registry, namespace, model, tag
        if len(parts) < 4:
            continue
        namespace, model, tag = parts[-3], parts[-2], parts[-1]
        name = f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            layers = data.get("layers", [])
            digest = next(
                layer["digest"] for layer in layers if layer.get("mediaType") == OLLAMA_MODEL_LAYER
            )
        except (OSError, ValueError, KeyError, StopIteration, AttributeError, TypeError) as exc:
            log.info("skipping Ollama manifest %s: %s", manifest, exc)
            continue
        blob = root / "blobs" / str(digest).replace(":", "-")
        if blob.is_file():
            yield name, blob


def external_models(kind: str, root: Path) -> Iterator[tuple[str, Path]]:
    """(name, path) pairs from one external folder of the given kind; nothing if it is absent."""
    if not root.is_dir():
        return iter(())
    if kind == KIND_HF:
        return hf_models(root)
    if kind == KIND_LMSTUDIO:
        return lmstudio_models(root)
    if kind == KIND_OLLAMA:
        return ollama_models(root)
    return iter(())
