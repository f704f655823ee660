"""Tier plans on described machines: the auto pick, the reasons, manual picks, bad input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ollm_tui.core.gguf_info import GGUFInfo, read_gguf_info
from ollm_tui.core.hardware import DeviceMemory, GiB, HardwareProbe, NvmlSource, fixed_probe
from ollm_tui.core.tiers import (
    TierError,
    effective_limit,
    offered_sizes,
    parse_tier,
    plan_tiers,
    safety_buffer,
)
from tests.unit.test_hardware import FakeNvml


@pytest.fixture
def llama8b(smollm2_gguf: Path) -> GGUFInfo:
    """A Llama 3.1 8B Q4_K_M as its header would describe it (128 KiB of KV per token)."""
    base = read_gguf_info(smollm2_gguf)
    return replace(
        base,
        name="Llama 3.1 8B",
        block_count=32,
        head_count=32,
        head_count_kv=8,
        key_length=128,
        value_length=128,
        embedding_length=4096,
        context_length=131072,
        vocab_size=128256,
        tensor_bytes=int(4.58 * GiB),
        head_count_kv_per_layer=None,
    )


def ram(total_gib: float, free_gib: float) -> DeviceMemory:
    return DeviceMemory(
        "ram",
        "system RAM",
        int(total_gib * GiB),
        int((total_gib - free_gib) * GiB),
        int(free_gib * GiB),
    )


def gpu(name: str, total_gib: float, free_gib: float, index: int = 0) -> DeviceMemory:
    return DeviceMemory(
        "gpu",
        name,
        int(total_gib * GiB),
        int((total_gib - free_gib) * GiB),
        int(free_gib * GiB),
        index,
        "nvidia",
    )


def test_limits_and_offered_sizes() -> None:
    assert [effective_limit(s) for s in (2048, 4096, 8192, 131072)] == [1536, 3328, 6912, 111360]
    assert offered_sizes(8192) == (2048, 4096, 8192)
    assert offered_sizes(1024) == (2048,)
    assert parse_tier("auto") is None and parse_tier("8K") == 8192 and parse_tier("16384") == 16384
    with pytest.raises(TierError):
        parse_tier("3k")


def test_cpu_only_8gib(llama8b: GGUFInfo) -> None:
    snap = fixed_probe(ram=ram(8, 6)).snapshot()
    plan = plan_tiers(llama8b, snap)
    assert safety_buffer(snap.ram) == int(0.8 * GiB)  # 10 % of 8 GiB is under 1 GiB
    assert [o.fits for o in plan.options][:4] == [True, True, False, False]
    assert plan.auto.label == "2K" and plan.chosen is plan.auto
    assert plan.reason.startswith("4K is the largest that fits (")
    assert "free RAM); auto takes one step below: 2K" in plan.reason
    assert all(o.plan.gpu_layers == 0 for o in plan.options)


def test_one_8gib_gpu(llama8b: GGUFInfo) -> None:
    snap = fixed_probe(gpus=[gpu("RTX 3070", 8, 7.5)], ram=ram(32, 20)).snapshot()
    plan = plan_tiers(llama8b, snap, gpu_offload=True)
    assert plan.device.label == "GPU0"
    assert plan.auto.label == "8K"  # 16K is the largest that fits
    assert "16K is the largest that fits" in plan.reason and "GPU0 (RTX 3070)" in plan.reason
    assert plan.auto.plan.gpu_layers == -1
    big = plan.option(32768)
    assert big is not None and not big.fits and 0 < big.plan.gpu_layers < 32  # partial offload
    assert big.warn  # over 80 % of 8 GiB


def test_one_24gib_gpu(llama8b: GGUFInfo) -> None:
    snap = fixed_probe(gpus=[gpu("RTX 4090", 24, 23)]).snapshot()
    plan = plan_tiers(llama8b, snap, gpu_offload=True)
    assert plan.auto.label == "64K"
    assert "128K is the largest that fits" in plan.reason


def test_two_gpus_plan_on_the_one_with_most_free(llama8b: GGUFInfo) -> None:
    snap = fixed_probe(gpus=[gpu("busy 4090", 24, 3, 0), gpu("idle 3060", 12, 11.5, 1)]).snapshot()
    plan = plan_tiers(llama8b, snap, gpu_offload=True)
    assert plan.device.name == "idle 3060"
    assert plan.auto.label == "16K"  # 32K fits in 10.5 GiB (8.2 GiB needed), 64K does not


def test_gpu_without_offload_build_plans_for_ram(llama8b: GGUFInfo) -> None:
    snap = fixed_probe(gpus=[gpu("RTX 4090", 24, 23)], ram=ram(8, 6)).snapshot()
    plan = plan_tiers(llama8b, snap, gpu_offload=False)
    assert plan.device.kind == "ram" and plan.auto.label == "2K"
    assert any("cannot offload" in n for n in plan.notes)


@pytest.mark.parametrize("fail", [None, RuntimeError("NVML_ERROR_UNKNOWN")])
def test_nvml_missing_or_raising_plans_for_ram(llama8b: GGUFInfo, fail: Exception | None) -> None:
    source = NvmlSource() if fail is None else NvmlSource(FakeNvml([("X", GiB, 0)], fail=fail))
    snap = HardwareProbe(gpu_sources=(source,), ram_source=lambda: ram(8, 6)).snapshot()
    plan = plan_tiers(llama8b, snap, gpu_offload=True)
    assert plan.device.kind == "ram" and plan.auto.label == "2K"


def test_gpu_with_zero_free_memory_says_nothing_fits(llama8b: GGUFInfo) -> None:
    snap = fixed_probe(gpus=[gpu("full", 8, 0)]).snapshot()
    plan = plan_tiers(llama8b, snap, gpu_offload=True)
    assert plan.auto.label == "2K" and not plan.auto.fits
    assert plan.reason.startswith("nothing fits: even 2K needs")
    assert any("no free memory" in n for n in plan.notes)


def test_model_larger_than_all_memory(llama8b: GGUFInfo) -> None:
    plan = plan_tiers(llama8b, fixed_probe(ram=ram(4, 3)).snapshot())
    assert not any(o.fits for o in plan.options)
    assert "nothing fits" in plan.reason and "smaller model" in plan.reason


def test_partial_offload_is_offered_when_the_gpu_is_too_small(llama8b: GGUFInfo) -> None:
    plan = plan_tiers(llama8b, fixed_probe(gpus=[gpu("small", 4, 4)]).snapshot(), gpu_offload=True)
    assert not plan.auto.fits and plan.auto.plan.gpu_layers > 0
    assert "layers go to the GPU" in plan.reason


def test_only_the_smallest_fits(smollm2_gguf: Path) -> None:
    info = read_gguf_info(smollm2_gguf)
    plan = plan_tiers(info, fixed_probe().snapshot(), budget=180 * 1024**2)
    assert plan.auto.label == "2K" and plan.reason.startswith("only 2K fits")
    assert "180 MiB memory budget" in plan.reason


def test_memory_budget_lowers_the_pick(gemma_gguf: Path) -> None:
    info = read_gguf_info(gemma_gguf)
    snap = fixed_probe(ram=ram(24, 21.2)).snapshot()
    free = plan_tiers(info, snap)
    capped = plan_tiers(info, snap, budget=450 * 1024**2)
    assert free.auto.label == "16K" and "32K is the largest that fits" in free.reason
    assert capped.auto.label == "4K" and "450 MiB memory budget" in capped.reason


def test_manual_pick_and_its_reason(smollm2_gguf: Path) -> None:
    info = read_gguf_info(smollm2_gguf)
    plan = plan_tiers(info, fixed_probe().snapshot(), choice=8192)
    assert plan.manual and plan.chosen.label == "8K" and plan.auto.label == "4K"
    assert plan.reason == "8K chosen by you (auto would take 4K)"
    with pytest.raises(TierError, match="not offered"):
        plan_tiers(info, fixed_probe().snapshot(), choice=65536)


def test_profile_limits_override_the_85_percent_rule(smollm2_gguf: Path) -> None:
    info = read_gguf_info(smollm2_gguf)
    plan = plan_tiers(info, fixed_probe().snapshot(), limits={4096: 4000}, fraction=0.5)
    assert [o.n_ctx for o in plan.options] == [1024, 4000, 4096]
