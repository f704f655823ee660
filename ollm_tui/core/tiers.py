"""Context tiers: which context sizes a model is offered at, what each costs, and the pick.

The tier table (``CONTEXT-SPEC``): 2K and 4K are tier 1 (Minimal), 8K tier 2 (Basic), 16K
tier 3 (Standard), 32K tier 4 (Premium), 64K and 128K tier 5 (Ultra). Sizes above the
model's trained context are not offered.

A size's **effective limit** is what the engine gets as ``n_ctx``: the profile's value, or
85 % of the size rounded down to a multiple of 256 (llama.cpp pads every context to 256, so
a rounded limit is allocated exactly).

**Auto** finds the largest size whose memory need fits in the free memory of the device the
model will live on (the GPU with the most free memory when the build can offload, else
system RAM), minus a safety buffer (1 GiB, or 10 % of the device when that is smaller),
and capped by ``--memory-budget``; then it takes one size below that. If only the smallest
fits it takes the smallest; if none fits it takes the smallest and says so. Every plan
carries its reason in words. The pick is made once per session and stored with the chat;
memory pressure later only warns (see ``memory_guard``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ollm_tui.core.gguf_info import GGUFInfo
from ollm_tui.core.hardware import DeviceMemory, GiB, HardwareSnapshot, format_bytes
from ollm_tui.core.memory_plan import CTX_PAD, MemoryPlan, ModelShape, plan_cpu, plan_gpu

SIZES: tuple[int, ...] = (2048, 4096, 8192, 16384, 32768, 65536, 131072)
"""Every context size the app offers, smallest first."""

TIERS: dict[int, tuple[int, str]] = {
    2048: (1, "Minimal"),
    4096: (1, "Minimal"),
    8192: (2, "Basic"),
    16384: (3, "Standard"),
    32768: (4, "Premium"),
    65536: (5, "Ultra"),
    131072: (5, "Ultra"),
}
"""Size -> (tier number, tier name)."""

EFFECTIVE_FRACTION = 0.85
"""The shipped rule: a size's effective limit is 85 % of it."""

WARN_FRACTION = 0.80
"""A size whose need exceeds this share of the device's total memory gets a warning."""

SAFETY_BUFFER = 1 * GiB
SAFETY_FRACTION = 0.10

TIER_CHOICES: tuple[str, ...] = ("auto", *(f"{s // 1024}k" for s in SIZES))
"""What ``--tier`` accepts."""


class TierError(ValueError):
    """A tier the user asked for cannot be used (the message says why and what can)."""


def size_label(size: int) -> str:
    """``4096`` -> ``"4K"``."""
    return f"{size // 1024}K" if size % 1024 == 0 else str(size)


def parse_tier(value: str) -> int | None:
    """``"auto"`` -> None, ``"8k"``/``"8K"``/``"8192"`` -> 8192; TierError for anything else."""
    text = value.strip().lower()
    if text == "auto":
        return None
    try:
        size = int(text[:-1]) * 1024 if text.endswith("k") else int(text)
    except ValueError:
        size = 0
    if size not in SIZES:
        raise TierError(f"unknown tier {value!r}: use one of {', '.join(TIER_CHOICES)}")
    return size


def effective_limit(size: int, fraction: float = EFFECTIVE_FRACTION) -> int:
    """``fraction`` of ``size``, rounded down to a multiple of 256."""
    return max(CTX_PAD, int(size * fraction) // CTX_PAD * CTX_PAD)


def safety_buffer(device: DeviceMemory) -> int:
    """1 GiB, or 10 % of the device's total when that is smaller."""
    return int(min(SAFETY_BUFFER, SAFETY_FRACTION * device.total))


@dataclass(frozen=True)
class TierOption:
    """One offered size, what it needs, and whether it fits."""

    size: int
    n_ctx: int  # the effective limit: what the engine allocates
    plan: MemoryPlan
    fits: bool
    warn: bool  # needs more than 80 % of the device's memory

    @property
    def label(self) -> str:
        """``"4K"``."""
        return size_label(self.size)

    @property
    def tier(self) -> int:
        """The tier number (1-5)."""
        return TIERS[self.size][0]

    @property
    def tier_name(self) -> str:
        """Minimal, Basic, Standard, Premium or Ultra."""
        return TIERS[self.size][1]

    @property
    def need(self) -> int:
        """Bytes the device must hold at this size."""
        return self.plan.device_bytes


@dataclass(frozen=True)
class TierPlan:
    """Every offered size of one model on one machine, the auto pick, and the choice."""

    device: DeviceMemory
    available: int  # free minus the safety buffer, capped by the budget
    budget: int | None
    options: tuple[TierOption, ...]
    auto: TierOption
    auto_reason: str
    chosen: TierOption
    manual: bool
    notes: tuple[str, ...] = ()

    def option(self, size: int) -> TierOption | None:
        """The option for ``size``, or None when it is not offered."""
        return next((o for o in self.options if o.size == size), None)

    @property
    def reason(self) -> str:
        """Why ``chosen`` was chosen, in words."""
        if not self.manual:
            return self.auto_reason
        text = f"{self.chosen.label} chosen by you (auto would take {self.auto.label})"
        if not self.chosen.fits:
            text += (
                f"; it needs {format_bytes(self.chosen.need)}, more than the {self.where} allows"
            )
        return text

    @property
    def where(self) -> str:
        """``"21.2 GiB free RAM"`` or ``"300 MiB memory budget"``."""
        if self.budget is not None and self.budget <= self.available:
            return f"{format_bytes(self.budget)} memory budget"
        return f"{format_bytes(self.available)} free {_device_words(self.device)}"


def _device_words(device: DeviceMemory) -> str:
    if device.kind == "gpu":
        return f"on GPU{device.index} ({device.name})"
    return "unified memory" if device.kind == "unified" else "RAM"


def offered_sizes(context_length: int | None) -> tuple[int, ...]:
    """The sizes offered for a model trained on ``context_length`` tokens (at least 2K)."""
    if not context_length:
        return SIZES[:3]
    sizes = tuple(s for s in SIZES if s <= context_length)
    return sizes or SIZES[:1]


def plan_tiers(
    info: GGUFInfo,
    snapshot: HardwareSnapshot,
    *,
    gpu_offload: bool = False,
    budget: int | None = None,
    choice: int | None = None,
    kv_type: str = "f16",
    limits: Mapping[int, int] | None = None,
    fraction: float = EFFECTIVE_FRACTION,
) -> TierPlan:
    """Plan every offered size of the model in ``info`` on the machine in ``snapshot``.

    ``choice`` is a size the user picked (None: auto). ``limits`` maps sizes to effective
    limits from the model's profile. Raises ``TierError`` if ``choice`` is not offered.
    """
    shape = ModelShape.from_gguf(info)
    gpu = snapshot.best_gpu() if gpu_offload else None
    device = gpu or snapshot.ram
    notes: list[str] = []
    if snapshot.gpus and not gpu_offload:
        notes.append(
            "a GPU was found but this llama.cpp build cannot offload to it: planning for RAM"
        )
    if gpu is not None and gpu.free <= 0:
        notes.append(f"GPU{gpu.index} reports no free memory")
    available = max(0, device.free - safety_buffer(device))
    if budget is not None:
        available = min(available, budget)
    options = []
    for size in offered_sizes(info.context_length):
        n_ctx = (limits or {}).get(size) or effective_limit(size, fraction)
        if gpu is not None:
            plan = plan_gpu(shape, n_ctx, available, kv_type)
            fits = plan.gpu_layers == -1
        else:
            plan = plan_cpu(shape, n_ctx, kv_type)
            fits = plan.device_bytes <= available
        warn = device.total > 0 and plan.device_bytes > WARN_FRACTION * device.total
        options.append(TierOption(size, n_ctx, plan, fits, warn))
    auto, reason = _auto(options, available, budget, device, gpu is not None)
    chosen = auto
    if choice is not None:
        picked = next((o for o in options if o.size == choice), None)
        if picked is None:
            top = size_label(options[-1].size)
            trained = info.context_length or "an unknown number of"
            raise TierError(
                f"{size_label(choice)} is not offered for this model "
                f"(trained on {trained} tokens; largest: {top})"
            )
        chosen = picked
    return TierPlan(
        device,
        available,
        budget,
        tuple(options),
        auto,
        reason,
        chosen,
        choice is not None,
        tuple(notes),
    )


def _auto(
    options: list[TierOption],
    available: int,
    budget: int | None,
    device: DeviceMemory,
    on_gpu: bool,
) -> tuple[TierOption, str]:
    capped = budget is not None and budget <= max(0, device.free - safety_buffer(device))
    room = (
        f"{format_bytes(budget)} memory budget"
        if capped and budget is not None
        else f"{format_bytes(available)} free {_device_words(device)}"
    )
    fitting = [i for i, o in enumerate(options) if o.fits]
    smallest = options[0]
    if not fitting:
        advice = (
            "try a smaller model, or a partial GPU offload"
            if on_gpu
            else "try a smaller model or quantisation"
        )
        if on_gpu and smallest.plan.gpu_layers > 0:
            advice = (
                f"{smallest.plan.gpu_layers} layers go to the GPU and the rest stays in RAM; "
                "replies will be slower"
            )
        return smallest, (
            f"nothing fits: even {smallest.label} needs {format_bytes(smallest.need)} "
            f"(more than the {room}); auto takes the smallest, {smallest.label} ({advice})"
        )
    top = fitting[-1]
    best = options[top]
    need = f"{format_bytes(best.need)} of {room}"
    if top == 0:
        return best, f"only {best.label} fits ({need}); auto takes it"
    pick = options[top - 1]
    return pick, (
        f"{best.label} is the largest that fits ({need}); auto takes one step below: {pick.label}"
    )
