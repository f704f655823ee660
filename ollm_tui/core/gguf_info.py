"""GGUF metadata without loading weights.

``read_gguf_info`` walks the header of a GGUF file through ``mmap`` and ``struct``: scalar
key/values are decoded, arrays are skipped (string arrays by walking their lengths only) and
only their lengths kept, tensor infos are summed. Nothing touches the tensor data, so a
253 MB model with a 262K-entry vocabulary reads in well under a tenth of a second (the
``gguf`` package's ``GGUFReader`` takes 18-27 s on the same file because it materialises
every array).

The file is also checked for truncation: the byte size of every tensor is computed from
its ggml type, and the end of the last tensor must lie inside the file.

Layout (GGUF v2/v3, little-endian): magic ``GGUF``, uint32 version, uint64 tensor count,
uint64 key/value count, the key/values, the tensor infos, padding to ``general.alignment``
(default 32), then the tensor data.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

__all__ = ["FILE_TYPES", "GGML_TYPES", "GGUFError", "GGUFInfo", "clear_cache", "read_gguf_info"]

Scalar = str | int | float | bool


class GGUFError(ValueError):
    """The file cannot be read as a GGUF model; the message says why in plain words."""


# ggml tensor types: id -> (name, elements per block, bytes per block).
# fmt: off
GGML_TYPES: Mapping[int, tuple[str, int, int]] = MappingProxyType({
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
})

# llama.cpp's LLAMA_FTYPE values (``general.file_type``) -> the name users know.
FILE_TYPES: Mapping[int, str] = MappingProxyType({
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4",
})
_FTYPE_GUESSED = 1024  # llama.cpp ORs this into file_type when it guessed it

# GGUF value types with a fixed size: id -> struct format.
_FIXED = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
          12: "d"}
# fmt: on
_FIXED_SIZE = {t: struct.calcsize("<" + f) for t, f in _FIXED.items()}
_T_STRING, _T_ARRAY = 8, 9
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

_MAX_KEY = 1 << 20  # a key longer than 1 MiB is corruption, not a key
_MAX_COUNT = 1 << 32  # counts and lengths beyond this are corruption
_MAX_DIMS = 4  # GGML_MAX_DIMS
_SMALL_ARRAY = 512  # per-layer lists up to this length are kept
_CACHE_SIZE = 64


def _human(n: int) -> str:
    """Bytes in decimal units, e.g. ``98.4 MB``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF file says about its model, read from the header only.

    Architecture-specific figures come from ``{architecture}.*`` keys and are None when the
    file does not carry them. Gemma 3 files usually carry no
    ``attention.sliding_window_pattern``: llama.cpp hardcodes a pattern of 6 (five
    sliding-window layers, then one global layer) for ``gemma3``, so
    ``sliding_window_pattern`` is None there and callers must apply that rule themselves.
    """

    path: Path
    file_size: int
    version: int
    tensor_count: int
    architecture: str
    name: str | None
    block_count: int | None
    embedding_length: int | None
    head_count: int | None
    head_count_kv: int | None  # the largest value when the file has one per layer
    key_length: int | None
    value_length: int | None
    context_length: int | None
    sliding_window: int | None
    sliding_window_pattern: int | None
    vocab_size: int | None
    file_type: int | None
    quantization: str
    chat_template: str | None
    bos_token_id: int | None
    eos_token_id: int | None
    parameter_count: int
    tensor_bytes: int
    data_offset: int  # where the tensor data starts
    alignment: int
    head_count_kv_per_layer: tuple[int, ...] | None = None  # when stored per layer
    metadata: Mapping[str, Scalar] = field(default_factory=dict, hash=False, compare=False)
    array_lengths: Mapping[str, int] = field(default_factory=dict, hash=False, compare=False)

    @property
    def has_chat_template(self) -> bool:
        """True when the file carries a non-empty ``tokenizer.chat_template``."""
        return bool(self.chat_template and self.chat_template.strip())


class _Walker:
    """A cursor over the mapped header; every read past the end is a GGUFError."""

    def __init__(self, buf: mmap.mmap, size: int) -> None:
        self.buf = buf
        self.size = size
        self.pos = 0

    def need(self, n: int, what: str) -> None:
        if self.pos + n > self.size:
            raise GGUFError(
                f"truncated header: the file ends at {_human(self.size)} while reading {what}"
            )

    def u32(self, what: str) -> int:
        self.need(4, what)
        v: int = _U32.unpack_from(self.buf, self.pos)[0]
        self.pos += 4
        return v

    def u64(self, what: str) -> int:
        self.need(8, what)
        v: int = _U64.unpack_from(self.buf, self.pos)[0]
        self.pos += 8
        return v

    def count(self, what: str) -> int:
        n = self.u64(what)
        if n > _MAX_COUNT:
            raise GGUFError(f"corrupt header: {what} is {n:,}, which cannot be right")
        return n

    def string(self, what: str, limit: int = _MAX_COUNT) -> str:
        n = self.u64(f"the length of {what}")
        if n > limit:
            raise GGUFError(f"corrupt header: {what} claims to be {n:,} bytes long")
        self.need(n, what)
        s = self.buf[self.pos : self.pos + n].decode("utf-8", errors="replace")
        self.pos += n
        return s

    def fixed(self, vtype: int, what: str) -> int | float | bool:
        n = _FIXED_SIZE[vtype]
        self.need(n, what)
        v: int | float | bool = struct.unpack_from("<" + _FIXED[vtype], self.buf, self.pos)[0]
        self.pos += n
        return v

    def skip_array(self, etype: int, count: int, key: str, depth: int = 0) -> None:
        """Jump over ``count`` elements of type ``etype`` without decoding them."""
        if etype in _FIXED_SIZE:
            self.need(count * _FIXED_SIZE[etype], f"the array {key!r}")
            self.pos += count * _FIXED_SIZE[etype]
        elif etype == _T_STRING:
            buf, pos, unpack, size = self.buf, self.pos, _U64.unpack_from, self.size
            for _ in range(count):
                if pos + 8 > size:
                    break
                (n,) = unpack(buf, pos)
                if n > _MAX_COUNT:
                    raise GGUFError(f"corrupt header: a string in {key!r} is {n:,} bytes long")
                pos += 8 + n
            else:
                if pos <= size:
                    self.pos = pos
                    return
            self.pos = size  # the array runs past the end of the file
            self.need(1, f"the array {key!r}")
        elif etype == _T_ARRAY and depth < 4:
            for _ in range(count):
                inner = self.u32(f"the array {key!r}")
                self.skip_array(inner, self.count(f"the length of {key!r}"), key, depth + 1)
        else:
            raise GGUFError(f"corrupt header: array {key!r} has unknown element type {etype}")


@dataclass
class _Tensors:
    """Totals over the tensor infos."""

    count: int = 0
    params: int = 0
    nbytes: int = 0
    data_end: int = 0  # end of the last tensor, relative to the data section
    by_type: Counter[int] = field(default_factory=Counter)  # elements per ggml type


def _parse(path: Path, buf: mmap.mmap, size: int) -> GGUFInfo:
    """Walk the header in ``buf`` (the whole file, ``size`` bytes)."""
    w = _Walker(buf, size)
    w.need(4, "the file signature")
    magic = bytes(buf[0:4])
    if magic != b"GGUF":
        raise GGUFError(f"not a GGUF file (starts with {magic!r})")
    w.pos = 4
    version = w.u32("the format version")
    if version == 1:
        raise GGUFError(
            "GGUF version 1 is too old: convert the model again with a current llama.cpp"
        )
    if version not in (2, 3):
        if int.from_bytes(version.to_bytes(4, "little"), "big") in (1, 2, 3):
            raise GGUFError("big-endian GGUF files are not supported")
        raise GGUFError(f"unsupported GGUF version {version} (this reader knows 2 and 3)")
    tensor_count = w.count("the tensor count")
    meta, lengths, small = _read_kvs(w, w.count("the metadata count"))
    alignment = _int(meta.get("general.alignment", 32))
    if alignment is None or alignment <= 0 or alignment & (alignment - 1):
        bad = meta.get("general.alignment")
        raise GGUFError(f"corrupt header: general.alignment is {bad!r}, not a power of 2")
    tensors = _read_tensors(w, tensor_count)
    data_offset = -(-w.pos // alignment) * alignment
    if tensor_count and data_offset + tensors.data_end > size:
        raise GGUFError(
            f"truncated: tensor data needs {_human(data_offset + tensors.data_end)} "
            f"but the file has {_human(size)}"
        )
    return _build(path, size, version, meta, lengths, small, tensors, data_offset, alignment)


_Small = dict[str, tuple[int | float | bool, ...]]


def _read_kvs(w: _Walker, kv_count: int) -> tuple[dict[str, Scalar], dict[str, int], _Small]:
    """Scalar key/values, array lengths, and the small numeric arrays (per-layer lists)."""
    meta: dict[str, Scalar] = {}
    lengths: dict[str, int] = {}
    small: _Small = {}
    for i in range(kv_count):
        key = w.string(f"metadata key #{i + 1}", limit=_MAX_KEY)
        vtype = w.u32(f"the type of {key!r}")
        if vtype in _FIXED:
            meta[key] = w.fixed(vtype, f"the value of {key!r}")
        elif vtype == _T_STRING:
            meta[key] = w.string(f"the value of {key!r}")
        elif vtype == _T_ARRAY:
            etype = w.u32(f"the element type of {key!r}")
            n = w.count(f"the length of {key!r}")
            lengths[key] = n
            if etype in _FIXED and etype != 7 and n <= _SMALL_ARRAY:
                w.need(n * _FIXED_SIZE[etype], f"the array {key!r}")
                small[key] = struct.unpack_from(f"<{n}{_FIXED[etype]}", w.buf, w.pos)
                w.pos += n * _FIXED_SIZE[etype]
            else:
                w.skip_array(etype, n, key)
        else:
            raise GGUFError(f"corrupt header: {key!r} has unknown value type {vtype}")
    return meta, lengths, small


def _read_tensors(w: _Walker, count: int) -> _Tensors:
    """Walk the tensor infos: element counts, byte sizes, the end of the data."""
    t = _Tensors(count=count)
    for i in range(count):
        name = w.string(f"the name of tensor #{i + 1}", limit=_MAX_KEY)
        n_dims = w.u32(f"the shape of tensor {name!r}")
        if n_dims > _MAX_DIMS:
            raise GGUFError(f"corrupt header: tensor {name!r} has {n_dims} dimensions")
        elements = 1
        for _ in range(n_dims):
            elements *= w.count(f"the shape of tensor {name!r}")
        ttype = w.u32(f"the type of tensor {name!r}")
        offset = w.u64(f"the offset of tensor {name!r}")
        t.params += elements
        t.by_type[ttype] += elements
        spec = GGML_TYPES.get(ttype)
        if spec is not None:  # unknown (newer) types: no size, no truncation check
            nbytes = -(-elements // spec[1]) * spec[2]
            t.nbytes += nbytes
            t.data_end = max(t.data_end, offset + nbytes)
    return t


def _int(v: object) -> int | None:
    """``v`` when it is an integer (not a bool), else None."""
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _build(
    path: Path,
    size: int,
    version: int,
    meta: dict[str, Scalar],
    lengths: dict[str, int],
    small: _Small,
    tensors: _Tensors,
    data_offset: int,
    alignment: int,
) -> GGUFInfo:
    """Turn the raw key/values into a ``GGUFInfo``."""
    arch_v = meta.get("general.architecture")
    arch = arch_v if isinstance(arch_v, str) else ""

    def num(suffix: str) -> int | None:
        return _int(meta.get(f"{arch}.{suffix}"))

    def num_or_max(suffix: str) -> tuple[int | None, tuple[int, ...] | None]:
        key = f"{arch}.{suffix}"
        if key in small:
            values = tuple(int(x) for x in small[key])
            return (max(values) if values else None), values
        return num(suffix), None

    head_count, _ = num_or_max("attention.head_count")
    head_count_kv, kv_per_layer = num_or_max("attention.head_count_kv")
    embd = num("embedding_length")
    default_head = embd // head_count if embd and head_count else None
    key_length = num("attention.key_length") or default_head
    value_length = num("attention.value_length") or default_head

    file_type = _int(meta.get("general.file_type"))
    quant = FILE_TYPES.get(file_type & ~_FTYPE_GUESSED) if file_type is not None else None
    if quant is None and tensors.by_type:
        top = tensors.by_type.most_common(1)[0][0]
        quant = GGML_TYPES[top][0] if top in GGML_TYPES else f"type {top}"
    if quant is None:
        quant = "unknown" if file_type is None else f"file type {file_type}"

    vocab = lengths.get("tokenizer.ggml.tokens")
    if vocab is None:
        vocab = num("vocab_size")
    template = meta.get("tokenizer.chat_template")
    name = meta.get("general.name")
    return GGUFInfo(
        path=path,
        file_size=size,
        version=version,
        tensor_count=tensors.count,
        architecture=arch,
        name=name if isinstance(name, str) else None,
        block_count=num("block_count"),
        embedding_length=embd,
        head_count=head_count,
        head_count_kv=head_count_kv,
        key_length=key_length,
        value_length=value_length,
        context_length=num("context_length"),
        sliding_window=num("attention.sliding_window"),
        sliding_window_pattern=num("attention.sliding_window_pattern"),
        vocab_size=vocab,
        file_type=file_type,
        quantization=quant,
        chat_template=template if isinstance(template, str) else None,
        bos_token_id=_int(meta.get("tokenizer.ggml.bos_token_id")),
        eos_token_id=_int(meta.get("tokenizer.ggml.eos_token_id")),
        parameter_count=tensors.params,
        tensor_bytes=tensors.nbytes,
        data_offset=data_offset,
        alignment=alignment,
        head_count_kv_per_layer=kv_per_layer,
        metadata=MappingProxyType(meta),
        array_lengths=MappingProxyType(lengths),
    )


def _read_uncached(path: Path) -> GGUFInfo:
    """Open, map and parse ``path``, turning OS errors into GGUFError."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise GGUFError("not a GGUF file (the file is empty)")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(path, buf, size)
    except FileNotFoundError:
        raise GGUFError(f"file not found: {path}") from None
    except PermissionError:
        raise GGUFError(f"permission denied: {path}") from None
    except IsADirectoryError:
        raise GGUFError(f"is a folder, not a file: {path}") from None
    except struct.error as e:  # defensive: every read is bounds-checked first
        raise GGUFError(f"corrupt header: {e}") from None
    except OSError as e:
        raise GGUFError(f"cannot read {path}: {e.strerror or e}") from None


_cache: OrderedDict[tuple[str, int, int, int], GGUFInfo] = OrderedDict()
_cache_lock = threading.Lock()


def read_gguf_info(path: str | Path) -> GGUFInfo:
    """Read the header of the GGUF file at ``path``; raise GGUFError if it is unusable.

    Results are cached (least recently used, 64 files) by resolved path, inode, size and
    modification time, so a file that changes or is replaced is read again. Safe to call from any
    thread.
    """
    p = Path(path).expanduser()
    try:
        resolved = p.resolve()
        st = resolved.stat()
    except FileNotFoundError:
        raise GGUFError(f"file not found: {p}") from None
    except PermissionError:
        raise GGUFError(f"permission denied: {p}") from None
    except (OSError, RuntimeError) as e:  # RuntimeError: symlink loop on older Pythons
        raise GGUFError(f"cannot read {p}: {e}") from None
    key = (str(resolved), st.st_ino, st.st_size, st.st_mtime_ns)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    info = _read_uncached(resolved)
    with _cache_lock:
        _cache[key] = info
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return info


def clear_cache() -> None:
    """Forget every cached header (tests use this)."""
    with _cache_lock:
        _cache.clear()
