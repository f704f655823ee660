"""The memory plan's arithmetic on the two real test models."""

from __future__ import annotations

from pathlib import Path

from ollm_tui.core.gguf_info import read_gguf_info
from ollm_tui.core.memory_plan import ModelShape, micro_batch, pad_ctx, plan_cpu

MiB = 1024**2


def test_smollm2_kv_per_token(smollm2_gguf: Path) -> None:
    shape = ModelShape.from_gguf(read_gguf_info(smollm2_gguf))
    assert shape.kv_bytes_per_token() == 30 * (64 + 64) * 3 * 2 == 23040
    assert shape.kv_bytes_per_token("q8_0") == 23040 / 2 * 34 / 32
    assert shape.kv_bytes_per_token("q4_0") == 23040 / 2 * 18 / 32
    assert not any(shape.swa_layers)
    # padded as llama.cpp pads it: 3481 tokens allocate 3584
    assert pad_ctx(3481) == 3584 and shape.kv_bytes(3481) == 3584 * 23040


def test_gemma3_swa_layers_every_sixth_is_global(gemma_gguf: Path) -> None:
    info = read_gguf_info(gemma_gguf)
    shape = ModelShape.from_gguf(info)
    assert info.sliding_window_pattern is None  # not in the file: the plan applies the rule
    assert shape.kv_bytes_per_token() == 18 * 512 * 1 * 2 == 18432
    assert [i for i, swa in enumerate(shape.swa_layers) if not swa] == [5, 11, 17]
    assert micro_batch(shape.vocab_size) == 128
    # swa_full (the engine's setting): every layer full length, as llama.cpp logged 58.5 MiB
    assert shape.kv_bytes(3328) == 3328 * 18432
    # without swa_full the 15 sliding layers keep window + n_ubatch = 640 -> 768 cells
    assert shape.kv_bytes(27648, swa_full=False) == 3 * 27648 * 1024 + 15 * 768 * 1024


def test_cpu_plan_adds_up(smollm2_gguf: Path) -> None:
    shape = ModelShape.from_gguf(read_gguf_info(smollm2_gguf))
    plan = plan_cpu(shape, 3328)
    assert plan.total == plan.weights + plan.kv + plan.runtime == plan.device_bytes
    assert 90 * MiB < plan.weights < 95 * MiB and plan.gpu_layers == 0
