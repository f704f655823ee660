"""Memory plans: what a model costs at a given context size, on the CPU or a GPU.

The need of one context size is

- **weights**: the tensor bytes of the GGUF file (on the CPU they are memory-mapped; every
  page is read during the first reply, so they count in full);
- **KV cache**: for every layer, ``(key_length + value_length) × KV heads × bytes per
  element`` per token, times the context (llama.cpp pads it to a multiple of 256).
  Sliding-window (SWA) layers hold ``min(n_ctx, window + n_ubatch)`` cells only when the
  engine runs with ``swa_full=False``; llama-cpp-python's default is ``swa_full=True``
  (every layer full length), which is what this app loads with, so ``swa_full`` defaults
  to True here. Gemma 3 files do not say which layers are SWA: llama.cpp hardcodes every
  6th layer as global, the rest sliding (Gemma 2: every other layer);
- **runtime buffers**: llama.cpp's compute buffer, the output buffer and the vocabulary.
  On a GPU the compute buffer (about ``n_ubatch × n_vocab × 4`` bytes) is reserved in full.
  On the CPU its pages are used only as a reply needs them; measured on the two test models,
  what a chat actually uses beyond weights and KV is about 32 MiB plus 100 bytes per
  vocabulary entry (``bench/memory_plan.py`` prints the comparison).

Bytes per KV element: f16 2, q8_0 34/32, q4_0 18/32 (ggml block sizes).
"""

from __future__ import annotations

from dataclasses import dataclass

from ollm_tui.core.gguf_info import GGUFInfo

KV_TYPES: dict[str, float] = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
"""Bytes per KV cache element for each cache type llama.cpp offers."""

CTX_PAD = 256
"""llama.cpp pads the context (and the KV cache) to a multiple of this."""

LARGE_VOCAB = 100_000
"""Above this vocabulary size the engine uses a micro-batch of 128 instead of 512: the
compute buffer is about n_ubatch x n_vocab x 4 bytes (514 MiB for Gemma's 262K vocab at
512, 128 MiB at 128), and prompt speed was measured the same."""

RUNTIME_BASE = 32 * 1024**2
RUNTIME_PER_VOCAB = 100
GPU_COMPUTE_MARGIN = 64 * 1024**2

SWA_PATTERNS: dict[str, int] = {"gemma3": 6, "gemma2": 2}
"""Architectures whose GGUFs leave the sliding-window pattern out: every N-th layer is
global (llama.cpp hardcodes these)."""


def pad_ctx(n_ctx: int) -> int:
    """The context llama.cpp actually allocates for ``n_ctx``."""
    return -(-n_ctx // CTX_PAD) * CTX_PAD


def micro_batch(vocab_size: int | None, requested: int = 512) -> int:
    """The engine's ``n_ubatch``: 128 for vocabularies over 100K (smaller compute buffer)."""
    return min(requested, 128) if (vocab_size or 0) > LARGE_VOCAB else requested


@dataclass(frozen=True)
class ModelShape:
    """The figures of a model that decide its memory, taken from the GGUF header."""

    architecture: str
    layers: int
    kv_heads: tuple[int, ...]  # per layer
    key_length: int
    value_length: int
    sliding_window: int | None
    swa_layers: tuple[bool, ...]  # per layer: True for a sliding-window layer
    vocab_size: int
    weights: int
    embedding_length: int

    @classmethod
    def from_gguf(cls, info: GGUFInfo) -> ModelShape:
        """The shape of the model in ``info`` (missing figures become safe defaults)."""
        layers = info.block_count or 1
        if info.head_count_kv_per_layer and len(info.head_count_kv_per_layer) == layers:
            kv_heads = tuple(info.head_count_kv_per_layer)
        else:
            kv_heads = (info.head_count_kv or info.head_count or 1,) * layers
        head = (info.embedding_length or 0) // (info.head_count or 1) or 128
        pattern = info.sliding_window_pattern or SWA_PATTERNS.get(info.architecture)
        swa = info.sliding_window or None
        if swa and pattern:
            swa_layers = tuple((i + 1) % pattern != 0 for i in range(layers))
        else:
            swa_layers = (False,) * layers
        return cls(
            architecture=info.architecture,
            layers=layers,
            kv_heads=kv_heads,
            key_length=info.key_length or head,
            value_length=info.value_length or head,
            sliding_window=swa,
            swa_layers=swa_layers,
            vocab_size=info.vocab_size or 32_000,
            weights=info.tensor_bytes,
            embedding_length=info.embedding_length or 0,
        )

    def layer_kv_bytes_per_token(self, layer: int, kv_type: str = "f16") -> float:
        """KV bytes one token costs in ``layer``."""
        return (self.key_length + self.value_length) * self.kv_heads[layer] * KV_TYPES[kv_type]

    def kv_bytes_per_token(self, kv_type: str = "f16") -> float:
        """KV bytes per token over all layers (every layer full length)."""
        return sum(self.layer_kv_bytes_per_token(i, kv_type) for i in range(self.layers))

    def kv_bytes(
        self, n_ctx: int, kv_type: str = "f16", swa_full: bool = True, n_ubatch: int | None = None
    ) -> int:
        """The KV cache for a context of ``n_ctx`` tokens (padded as llama.cpp pads it)."""
        ctx = pad_ctx(n_ctx)
        ub = n_ubatch or micro_batch(self.vocab_size)
        total = 0.0
        for i in range(self.layers):
            cells = ctx
            if self.swa_layers[i] and not swa_full and self.sliding_window:
                cells = min(ctx, pad_ctx(self.sliding_window + ub))
            total += cells * self.layer_kv_bytes_per_token(i, kv_type)
        return int(total)

    def runtime_bytes(self, on_gpu: bool) -> int:
        """Compute/output buffers and vocabulary (see the module docstring)."""
        base = RUNTIME_BASE + RUNTIME_PER_VOCAB * self.vocab_size
        if on_gpu:
            base += micro_batch(self.vocab_size) * self.vocab_size * 4 + GPU_COMPUTE_MARGIN
        return base


@dataclass(frozen=True)
class MemoryPlan:
    """What one context size costs, and where it would live."""

    n_ctx: int
    weights: int
    kv: int
    runtime: int
    gpu_layers: int  # 0: CPU only; -1: every layer on the GPU; else that many layers
    device_bytes: int  # what the chosen device must hold
    host_bytes: int  # what stays in system RAM (all of it when CPU only)

    @property
    def total(self) -> int:
        """Everything together."""
        return self.weights + self.kv + self.runtime


def plan_cpu(
    shape: ModelShape, n_ctx: int, kv_type: str = "f16", swa_full: bool = True
) -> MemoryPlan:
    """The model entirely in system RAM."""
    kv = shape.kv_bytes(n_ctx, kv_type, swa_full)
    runtime = shape.runtime_bytes(on_gpu=False)
    total = shape.weights + kv + runtime
    return MemoryPlan(n_ctx, shape.weights, kv, runtime, 0, total, total)


def plan_gpu(
    shape: ModelShape, n_ctx: int, available: int, kv_type: str = "f16", swa_full: bool = True
) -> MemoryPlan:
    """As many layers as fit in ``available`` GPU bytes (all of them: ``gpu_layers`` -1).

    Layers are counted from the back, as llama.cpp offloads them; each carries its weights
    share and its KV cache. Whatever does not fit stays in system RAM.
    """
    kv = shape.kv_bytes(n_ctx, kv_type, swa_full)
    runtime = shape.runtime_bytes(on_gpu=True)
    total = shape.weights + kv + runtime
    if total <= available:
        return MemoryPlan(n_ctx, shape.weights, kv, runtime, -1, total, RUNTIME_BASE)
    per_layer = (shape.weights + kv) / shape.layers
    room = available - runtime
    layers = max(0, min(shape.layers, int(room // per_layer))) if room > 0 else 0
    if layers == 0:
        return plan_cpu(shape, n_ctx, kv_type, swa_full)
    on_gpu = int(layers * per_layer) + runtime
    return MemoryPlan(
        n_ctx, shape.weights, kv, runtime, layers, on_gpu, total - on_gpu + RUNTIME_BASE
    )
