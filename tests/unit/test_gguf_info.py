"""core.gguf_info: header facts of the real models, clear errors for bad files, round-trips."""

from __future__ import annotations

import os
import struct
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ollm_tui.core import gguf_info
from ollm_tui.core.gguf_info import GGUFError, clear_cache, read_gguf_info
from tests.unit.conftest import write_gguf


def _timed_read(path: Path) -> float:
    clear_cache()
    start = time.perf_counter()
    read_gguf_info(path)
    return time.perf_counter() - start


def test_smollm2_facts(smollm2_gguf: Path) -> None:
    elapsed = _timed_read(smollm2_gguf)
    info = read_gguf_info(smollm2_gguf)
    print(f"\nSmolLM2 header read: {elapsed * 1000:.1f} ms")
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.block_count == 30
    assert info.embedding_length == 576
    assert info.head_count == 9
    assert info.head_count_kv == 3
    assert info.key_length == info.value_length == 64  # 576 // 9: the file has no key_length
    assert info.context_length == 8192
    assert info.vocab_size == 49152
    assert info.file_type == 3 and info.quantization == "Q4_1"
    assert info.has_chat_template and "<|im_start|>" in (info.chat_template or "")
    assert (info.bos_token_id, info.eos_token_id) == (1, 2)
    assert info.sliding_window is None and info.sliding_window_pattern is None
    assert info.tensor_count == 272
    assert info.parameter_count == 134_515_008
    # the data section ends exactly at the end of the file
    assert info.data_offset + info.tensor_bytes == info.file_size == 98_362_432
    assert info.metadata["general.architecture"] == "llama"
    assert info.array_lengths["tokenizer.ggml.merges"] == 48900


def test_gemma_facts(gemma_gguf: Path) -> None:
    elapsed = _timed_read(gemma_gguf)
    info = read_gguf_info(gemma_gguf)
    print(f"\nGemma header read: {elapsed * 1000:.1f} ms")
    assert info.architecture == "gemma3"
    assert info.block_count == 18
    assert info.embedding_length == 640
    assert info.head_count == 4
    assert info.head_count_kv == 1
    assert info.key_length == info.value_length == 256
    assert info.context_length == 32768
    assert info.sliding_window == 512
    assert info.sliding_window_pattern is None  # not in the file; llama.cpp hardcodes 6
    assert info.vocab_size == 262144
    assert info.file_type == 15 and info.quantization == "Q4_K_M"
    assert info.chat_template is None and not info.has_chat_template
    assert (info.bos_token_id, info.eos_token_id) == (2, 1)
    assert info.parameter_count == 268_098_176
    assert info.data_offset + info.tensor_bytes == info.file_size == 253_113_024


def test_cache_returns_same_object_and_notices_change(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "a.gguf", [("general.architecture", 8, "x")])
    first = read_gguf_info(path)
    assert read_gguf_info(str(path)) is first
    write_gguf(path, [("general.architecture", 8, "yy")])
    os.utime(path, ns=(1, 1))
    assert read_gguf_info(path).architecture == "yy"


# --- bad input ------------------------------------------------------------------------------


def _error(path: Path) -> str:
    with pytest.raises(GGUFError) as exc:
        read_gguf_info(path)
    return str(exc.value)


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.gguf"
    path.write_text("hello, this is not a model\n")
    assert _error(path) == "not a GGUF file (starts with b'hell')"


def test_zip_file(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("model.gguf", "x" * 100)
    assert _error(path) == "not a GGUF file (starts with b'PK\\x03\\x04')"


def test_empty_and_tiny_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gguf"
    empty.touch()
    assert _error(empty) == "not a GGUF file (the file is empty)"
    tiny = tmp_path / "tiny.gguf"
    tiny.write_bytes(b"GG")
    assert _error(tiny).startswith("truncated header")


def _prefix(src: Path, dest: Path, n: int) -> Path:
    with src.open("rb") as f:
        dest.write_bytes(f.read(n))
    return dest


def test_truncated_to_half(smollm2_gguf: Path, tmp_path: Path) -> None:
    half = _prefix(smollm2_gguf, tmp_path / "half.gguf", smollm2_gguf.stat().st_size // 2)
    assert _error(half) == "truncated: tensor data needs 98.4 MB but the file has 49.2 MB"


def test_truncated_to_1kb(smollm2_gguf: Path, tmp_path: Path) -> None:
    path = _prefix(smollm2_gguf, tmp_path / "1k.gguf", 1024)
    msg = _error(path)
    assert msg.startswith("truncated header: the file ends at 1.0 KB while reading"), msg


def test_missing_file_and_folder(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope.gguf") == f"file not found: {tmp_path / 'nope.gguf'}"
    assert _error(tmp_path).startswith("is a folder")


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_gguf(tmp_path / "locked.gguf", [])

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(gguf_info, "open", refuse, raising=False)  # works as root too
    assert _error(path) == f"permission denied: {path}"


@pytest.mark.parametrize(
    ("offset", "value", "expected"),
    [
        (24, 1 << 40, "corrupt header: metadata key #1 claims to be 1,099,511,627,776 bytes"),
        (24, 2 << 20, "corrupt header: metadata key #1 claims to be 2,097,152 bytes"),
        (56, 0xFFFF_FFFF_FFFF, "corrupt header: the value of 'general.architecture' claims"),
        (8, 1 << 40, "corrupt header: the tensor count is 1,099,511,627,776"),
    ],
)
def test_corrupt_lengths(
    smollm2_gguf: Path, tmp_path: Path, offset: int, value: int, expected: str
) -> None:
    data = bytearray(smollm2_gguf.read_bytes()[:65536])
    assert data[32:52] == b"general.architecture"  # the first key, as the offsets assume
    struct.pack_into("<Q", data, offset, value)
    path = tmp_path / "corrupt.gguf"
    path.write_bytes(bytes(data))
    assert _error(path).startswith(expected)


def test_old_and_foreign_versions(tmp_path: Path) -> None:
    v1 = tmp_path / "v1.gguf"
    v1.write_bytes(b"GGUF" + struct.pack("<III", 1, 0, 0))
    assert "version 1 is too old" in _error(v1)
    big = tmp_path / "be.gguf"
    big.write_bytes(b"GGUF" + struct.pack(">IQQ", 3, 0, 0))
    assert _error(big) == "big-endian GGUF files are not supported"
    v9 = write_gguf(tmp_path / "v9.gguf", [], version=9)
    assert _error(v9).startswith("unsupported GGUF version 9")


def test_unknown_value_type_and_bad_alignment(tmp_path: Path) -> None:
    bad = tmp_path / "type.gguf"
    bad.write_bytes(
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 42)
    )
    assert _error(bad) == "corrupt header: 'k' has unknown value type 42"
    align = write_gguf(tmp_path / "align.gguf", [("general.alignment", 4, 24)])
    assert "general.alignment is 24" in _error(align)


def test_truncated_string_array(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "a.gguf", [("tokenizer.ggml.tokens", 9, (8, ["a", "bb"]))])
    path.write_bytes(path.read_bytes()[:-1])
    assert _error(path).startswith("truncated header")


# --- synthetic files ------------------------------------------------------------------------


def test_per_layer_kv_heads_and_quant_fallback(tmp_path: Path) -> None:
    kvs = [
        ("general.architecture", 8, "toy"),
        ("toy.block_count", 4, 3),
        ("toy.embedding_length", 4, 64),
        ("toy.attention.head_count", 4, 8),
        ("toy.attention.head_count_kv", 9, (5, [1, 4, 2])),
        ("toy.attention.sliding_window_pattern", 4, 6),
        ("tokenizer.ggml.tokens", 9, (8, ["<s>", "</s>", "hi"])),
    ]
    tensors = [("a", (64, 64), 8), ("b", (64, 32), 8), ("norm", (64,), 0)]
    info = read_gguf_info(write_gguf(tmp_path / "toy.gguf", kvs, tensors))
    assert info.head_count_kv == 4 and info.head_count_kv_per_layer == (1, 4, 2)
    assert info.key_length == info.value_length == 8
    assert info.sliding_window_pattern == 6
    assert info.vocab_size == 3
    assert info.quantization == "Q8_0"  # no general.file_type: the type holding most weights
    assert info.parameter_count == 64 * 64 + 64 * 32 + 64
    assert info.tensor_bytes == 128 * 34 + 64 * 34 + 64 * 4


_INTS = {
    0: (0, 255),
    1: (-128, 127),
    2: (0, 65535),
    3: (-(2**15), 2**15 - 1),
    4: (0, 2**32 - 1),
    5: (-(2**31), 2**31 - 1),
    10: (0, 2**64 - 1),
    11: (-(2**63), 2**63 - 1),
}


def _scalar_values() -> st.SearchStrategy[tuple[int, object]]:
    ints = [st.tuples(st.just(t), st.integers(lo, hi)) for t, (lo, hi) in _INTS.items()]
    return st.one_of(
        *ints,
        st.tuples(st.just(6), st.floats(width=32, allow_nan=False)),
        st.tuples(st.just(12), st.floats(allow_nan=False)),
        st.tuples(st.just(7), st.booleans()),
        st.tuples(st.just(8), st.text(max_size=40)),
    )


def _array_values() -> st.SearchStrategy[tuple[int, object]]:
    return st.one_of(
        st.tuples(st.just(8), st.lists(st.text(max_size=8), max_size=40)),
        st.tuples(st.just(5), st.lists(st.integers(-(2**31), 2**31 - 1), max_size=600)),
        st.tuples(st.just(6), st.lists(st.floats(width=32, allow_nan=False), max_size=20)),
    ).map(lambda ev: (9, ev))


_keys = st.text(min_size=1, max_size=24).filter(lambda k: not k.startswith(("general.", "arr.")))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scalars=st.dictionaries(_keys, _scalar_values(), max_size=8),
    arrays=st.dictionaries(_keys.map(lambda k: "arr." + k), _array_values(), max_size=4),
    dims=st.lists(st.lists(st.integers(1, 40), min_size=1, max_size=4), max_size=3),
    alignment=st.sampled_from([8, 32, 64]),
    version=st.sampled_from([2, 3]),
)
def test_round_trip(
    scalars: dict[str, tuple[int, object]],
    arrays: dict[str, tuple[int, object]],
    dims: list[list[int]],
    alignment: int,
    version: int,
) -> None:
    kvs = [("general.architecture", 8, "toy"), ("general.alignment", 4, alignment)]
    kvs += [(k, t, v) for k, (t, v) in scalars.items()]
    kvs += [(k, t, v) for k, (t, v) in arrays.items()]
    tensors = [(f"t{i}", tuple(d), 0) for i, d in enumerate(dims)]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_gguf(
            Path(tmp) / f"{uuid.uuid4().hex}.gguf",
            kvs,
            tensors,
            version=version,
            alignment=alignment,
        )
        info = read_gguf_info(path)
    assert info.version == version and info.architecture == "toy"
    assert info.alignment == alignment and info.data_offset % alignment == 0
    assert info.tensor_count == len(dims)
    sizes = [_prod(d) for d in dims]
    assert info.parameter_count == sum(sizes)
    assert info.tensor_bytes == 4 * sum(sizes)
    for key, (vtype, value) in scalars.items():
        expected = struct.unpack("<f", struct.pack("<f", value))[0] if vtype == 6 else value
        assert info.metadata[key] == expected
        assert type(info.metadata[key]) is type(expected)
    expected_lengths = {
        k: len(cast(tuple[int, list[object]], v)[1]) for k, (_, v) in arrays.items()
    }
    assert dict(info.array_lengths) == expected_lengths


def _prod(dims: list[int]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def _sample_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        kvs = [
            ("general.architecture", 8, "toy"),
            ("toy.block_count", 4, 2),
            ("toy.attention.head_count_kv", 9, (5, [1, 2])),
            ("tokenizer.ggml.tokens", 9, (8, ["a", "bb", "ccc"])),
            ("nested", 9, (9, [])),
        ]
        path = write_gguf(Path(tmp) / "s.gguf", kvs, [("w", (8, 4), 0), ("q", (64,), 8)])
        return path.read_bytes()


_SAMPLE = _sample_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(st.tuples(st.integers(0, len(_SAMPLE) - 1), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, len(_SAMPLE)),
)
def test_damaged_files_fail_cleanly(edits: list[tuple[int, int]], cut: int) -> None:
    """Random byte damage and truncation give a GGUFInfo or a GGUFError, nothing else."""
    data = bytearray(_SAMPLE)
    for pos, byte in edits:
        data[pos] = byte
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{uuid.uuid4().hex}.gguf"
        path.write_bytes(bytes(data[:cut]))
        error: GGUFError | None = None
        try:
            read_gguf_info(path)
        except GGUFError as e:
            error = e
        assert error is None or str(error)
