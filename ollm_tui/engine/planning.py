"""From settings, a model and this machine to the tier plan and the options to load with.

Glue between ``core.tiers`` (pure) and the engine: it knows whether this llama.cpp build can
offload to a GPU (asked only when a GPU was found, so a CPU-only machine never waits for the
llama-cpp-python import), reads the model's profile for its effective limits, and turns the
chosen tier into ``LoadOptions``. ``--context`` (``Settings.context_explicit``) overrides
the tier's limit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ollm_tui.core.gguf_info import GGUFInfo
from ollm_tui.core.hardware import HardwareProbe, HardwareSnapshot
from ollm_tui.core.profiles import ProfileSet, load_profiles, parse_profile, save_computed_profile
from ollm_tui.core.tiers import TierError, TierPlan, parse_tier, plan_tiers
from ollm_tui.engine.base import LoadOptions
from ollm_tui.engine.factory import load_options
from ollm_tui.settings import Settings
from ollm_tui.settings.resources import bundled_dir

log = logging.getLogger("ollm.planning")


def load_all_profiles(settings: Settings) -> ProfileSet:
    """The shipped profiles plus the user's (which override shipped files of the same name)."""
    return load_profiles([bundled_dir("profiles"), settings.user_profiles_dir])


@dataclass(frozen=True)
class BuildFeatures:
    """What the installed llama.cpp build can do."""

    gpu_offload: bool
    system_info: str


def build_features() -> BuildFeatures:
    """Ask llama-cpp-python (imports it: about a second the first time)."""
    try:
        import llama_cpp
    except Exception as exc:  # noqa: BLE001 (not installed, or a broken build)
        return BuildFeatures(False, f"llama-cpp-python cannot be imported: {exc}")
    try:
        offload = bool(llama_cpp.llama_supports_gpu_offload())
        raw = llama_cpp.llama_print_system_info()
        info = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    except Exception as exc:  # noqa: BLE001 (an old or odd build)
        return BuildFeatures(False, f"unknown ({exc})")
    return BuildFeatures(offload, info.strip())


def gpu_offload_possible(snapshot: HardwareSnapshot) -> bool:
    """True when a GPU was found and the build can offload to it."""
    return bool(snapshot.gpus) and build_features().gpu_offload


def _save_profile(
    settings: Settings, info: GGUFInfo, profiles: ProfileSet, limits: list[tuple[int, int]]
) -> None:
    try:
        path = save_computed_profile(settings.user_profiles_dir, info, limits)
        profiles.profiles.append(parse_profile(path))
        log.info("saved a computed profile for %s: %s", info.path.name, path)
    except (OSError, ValueError) as exc:
        log.warning("could not save a computed profile for %s: %s", info.path.name, exc)


def stored_choice(settings: Settings, chat_settings: dict, model_path: Path) -> int | None:
    """The tier a chat was locked to for this model, when nothing on the command line
    overrides it (``--tier``, ``--context``); None otherwise (then auto decides)."""
    if settings.tier is not None or settings.context_explicit:
        return None
    if chat_settings.get("model_path") != str(model_path):
        return None
    try:
        return parse_tier(str(chat_settings.get("tier", "")))
    except TierError:
        return None


@dataclass(frozen=True)
class Placement:
    """The tier plan for a model, and how to load it."""

    plan: TierPlan
    options: LoadOptions
    override_note: str = ""  # set when --context overrode the tier

    @property
    def n_ctx(self) -> int:
        """The context the engine will allocate."""
        return self.options.n_ctx


def place(
    settings: Settings,
    info: GGUFInfo,
    snapshot: HardwareSnapshot | None = None,
    profiles: ProfileSet | None = None,
    choice: int | None = None,
    gpu_offload: bool | None = None,
    save_profile: bool = False,
) -> Placement:
    """Plan ``info`` on this machine and pick its tier (``choice``, else ``settings.tier``,
    else auto). Raises ``core.tiers.TierError`` when the chosen size is not offered.

    ``save_profile``: when no profile matches, compute one from the GGUF metadata and save
    it in the user's profiles dir (loading a model does this; ``ollm doctor`` does not).
    """
    snap = snapshot or HardwareProbe().snapshot()
    offload = gpu_offload_possible(snap) if gpu_offload is None else gpu_offload
    limits, fraction = {}, None
    profile = (
        profiles.match(info.architecture, [info.name or "", info.path.name]) if profiles else None
    )
    if profile is not None:
        limits = dict(profile.context_limits)
        fraction = profile.context_fraction
    kwargs = {"fraction": fraction} if fraction else {}
    plan = plan_tiers(
        info,
        snap,
        gpu_offload=offload,
        budget=settings.memory_budget,
        choice=choice if choice is not None else settings.tier,
        limits=limits,
        **kwargs,
    )
    if profile is None and profiles is not None and save_profile:
        _save_profile(settings, info, profiles, [(o.size, o.n_ctx) for o in plan.options])
    layers = plan.chosen.plan.gpu_layers if offload else 0
    if settings.context_explicit:
        note = f"--context {settings.context_size} overrides the {plan.chosen.label} tier"
        return Placement(plan, load_options(settings, settings.context_size, layers), note)
    return Placement(plan, load_options(settings, plan.chosen.n_ctx, layers))
