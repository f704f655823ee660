"""Memory probes: how much memory each device has, and how much is free, right now.

Sources, each tried on its own and allowed to fail:

- **NVIDIA GPUs** through NVML (the ``nvidia-ml-py`` package, imported as ``pynvml``): name,
  total/used/free memory and the driver version of every GPU.
- **AMD GPUs** (best effort, Linux): the amdgpu driver's sysfs files
  (``mem_info_vram_total`` / ``mem_info_vram_used``, the same numbers ``rocm-smi`` prints),
  falling back to ``rocm-smi --showmeminfo vram --json`` when the files are missing.
- **System RAM** and this process's resident set (RSS) through ``psutil``. On Apple silicon
  the RAM is *unified*: the GPU uses the same memory, so it is reported as one device of
  kind ``unified``.

A source that is missing (no NVML library, no driver) or raises is logged, noted in
``HardwareSnapshot.notes`` and skipped; a probe never raises. NVML initialisation is tried
once per ``HardwareProbe``; after it fails the probe stops asking (a missing library does not
appear while the app runs), so a sample costs a few milliseconds.

Tests describe any machine by passing their own sources to ``HardwareProbe``.
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger("ollm.hardware")

DeviceKind = Literal["gpu", "ram", "unified"]

GiB = 1024**3
MiB = 1024**2


def format_bytes(n: float) -> str:
    """Binary units a user reads at a glance: ``812 MiB``, ``21.2 GiB``."""
    if n >= GiB:
        return f"{n / GiB:.1f} GiB"
    if n >= MiB:
        return f"{n / MiB:.0f} MiB"
    return f"{n / 1024:.0f} KiB"


@dataclass(frozen=True)
class DeviceMemory:
    """One memory pool: a GPU's VRAM, system RAM, or Apple unified memory."""

    kind: DeviceKind
    name: str
    total: int
    used: int
    free: int
    index: int = 0
    vendor: str = ""  # "nvidia", "amd", "apple" or ""
    driver: str | None = None

    @property
    def used_fraction(self) -> float:
        """Used / total, 0.0 when the total is unknown."""
        return self.used / self.total if self.total > 0 else 0.0

    @property
    def label(self) -> str:
        """A short name for the status bar: ``GPU0``, ``RAM``, ``unified``."""
        if self.kind == "gpu":
            return f"GPU{self.index}"
        return "RAM" if self.kind == "ram" else "unified"


@dataclass(frozen=True)
class HardwareSnapshot:
    """Every device seen by one probe, with what went wrong on the way."""

    gpus: tuple[DeviceMemory, ...]
    ram: DeviceMemory
    process_rss: int
    notes: tuple[str, ...] = ()
    elapsed_s: float = 0.0

    def device(self, label: str) -> DeviceMemory | None:
        """The device with this ``label`` (``RAM``, ``GPU1``, ...), or None."""
        for d in (*self.gpus, self.ram):
            if d.label == label:
                return d
        return None

    def best_gpu(self) -> DeviceMemory | None:
        """The GPU with the most free memory, or None."""
        return max(self.gpus, key=lambda d: d.free, default=None)


GpuSource = Callable[[], Sequence[DeviceMemory]]
RamSource = Callable[[], DeviceMemory]
RssSource = Callable[[], int]


class ProbeUnavailable(Exception):
    """A source does not exist on this machine (not an error worth a warning)."""


# -- NVIDIA ----------------------------------------------------------------------------------


def _nvml_library_loads() -> bool:
    """Whether the library pynvml opens on Linux (``libnvidia-ml.so.1``) loads. Asked before
    importing pynvml, which costs the app's first frame ~25 ms and, without the library,
    can only fail with the same "NVML Shared Library Not Found"."""
    import ctypes

    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


class NvmlSource:
    """NVIDIA GPUs through NVML; initialises once, and after a failure stops trying."""

    def __init__(self, module: Any = None) -> None:
        # pynvml has no type information; tests pass a stand-in object
        self._module: Any = module
        self._ready = False
        self._failed: str | None = None
        self._driver: str | None = None
        self._lock = threading.Lock()

    def _init(self) -> Any:
        if self._failed is not None:
            raise ProbeUnavailable(self._failed)
        nvml = self._module
        if nvml is None:
            if sys.platform.startswith("linux") and not _nvml_library_loads():
                self._failed = "NVIDIA: NVML unavailable (NVML Shared Library Not Found)"
                raise ProbeUnavailable(self._failed)
            try:
                import pynvml
            except ImportError as exc:
                self._failed = f"NVIDIA: nvidia-ml-py is not installed ({exc})"
                raise ProbeUnavailable(self._failed) from None
            self._module = nvml = pynvml
        if not self._ready:
            try:
                nvml.nvmlInit()
                driver = nvml.nvmlSystemGetDriverVersion()
                self._driver = driver.decode() if isinstance(driver, bytes) else str(driver)
            except Exception as exc:  # noqa: BLE001 (NVMLError_LibraryNotFound, DriverNotLoaded, ...)
                self._failed = f"NVIDIA: NVML unavailable ({str(exc) or type(exc).__name__})"
                raise ProbeUnavailable(self._failed) from None
            self._ready = True
        return nvml

    def __call__(self) -> list[DeviceMemory]:
        with self._lock:
            nvml = self._init()
            gpus = []
            for i in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(i)
                name = nvml.nvmlDeviceGetName(handle)
                mem = nvml.nvmlDeviceGetMemoryInfo(handle)
                gpus.append(
                    DeviceMemory(
                        kind="gpu",
                        name=name.decode() if isinstance(name, bytes) else str(name),
                        total=int(mem.total),
                        used=int(mem.used),
                        free=int(mem.free),
                        index=i,
                        vendor="nvidia",
                        driver=self._driver,
                    )
                )
            return gpus


# -- AMD -------------------------------------------------------------------------------------


class AmdSource:
    """AMD GPUs: amdgpu sysfs files, else ``rocm-smi`` (tried once, with a timeout)."""

    def __init__(
        self, drm: Path = Path("/sys/class/drm"), rocm_smi: str | None = "rocm-smi"
    ) -> None:
        self.drm = drm
        self.rocm_smi = rocm_smi
        self._smi_failed = False

    def __call__(self) -> list[DeviceMemory]:
        gpus = self._sysfs()
        if gpus:
            return gpus
        return self._smi()

    def _sysfs(self) -> list[DeviceMemory]:
        gpus: list[DeviceMemory] = []
        if not self.drm.is_dir():
            return gpus
        for card in sorted(self.drm.glob("card[0-9]*")):
            dev = card / "device"
            total_f, used_f = dev / "mem_info_vram_total", dev / "mem_info_vram_used"
            if not total_f.is_file() or not used_f.is_file():
                continue
            total = int(total_f.read_text().strip())
            used = int(used_f.read_text().strip())
            gpus.append(_amd(f"AMD GPU ({card.name})", total, used, len(gpus)))
        return gpus

    def _smi(self) -> list[DeviceMemory]:
        exe = shutil.which(self.rocm_smi) if self.rocm_smi else None
        if exe is None or self._smi_failed:
            raise ProbeUnavailable("AMD: no amdgpu memory files and no rocm-smi")
        try:
            out = subprocess.run(
                [exe, "--showmeminfo", "vram", "--json"],
                capture_output=True,
                text=True,
                timeout=2,
                check=True,
            ).stdout
            data = json.loads(out)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            self._smi_failed = True
            raise ProbeUnavailable(f"AMD: rocm-smi failed ({exc})") from None
        gpus: list[DeviceMemory] = []
        for key in sorted(data):
            card = data[key]
            if not isinstance(card, dict):
                continue
            total = int(card.get("VRAM Total Memory (B)", 0))
            used = int(card.get("VRAM Total Used Memory (B)", 0))
            if total:
                gpus.append(_amd(f"AMD GPU ({key})", total, used, len(gpus)))
        return gpus


def _amd(name: str, total: int, used: int, index: int) -> DeviceMemory:
    """One AMD GPU's memory (from sysfs or rocm-smi)."""
    return DeviceMemory("gpu", name, total, used, max(0, total - used), index=index, vendor="amd")


# -- RAM -------------------------------------------------------------------------------------


def is_unified_memory() -> bool:
    """True on Apple silicon, where the GPU shares system RAM."""
    return sys.platform == "darwin" and platform.machine() == "arm64"


def psutil_ram() -> DeviceMemory:
    """System RAM (``available`` counts as free: caches the OS gives back on demand)."""
    import psutil

    vm = psutil.virtual_memory()
    unified = is_unified_memory()
    return DeviceMemory(
        kind="unified" if unified else "ram",
        name="Apple unified memory" if unified else "system RAM",
        total=int(vm.total),
        used=int(vm.total - vm.available),
        free=int(vm.available),
        vendor="apple" if unified else "",
    )


def psutil_rss() -> int:
    """This process's resident set size in bytes."""
    import psutil

    return int(psutil.Process().memory_info().rss)


def _no_ram() -> DeviceMemory:
    return DeviceMemory("ram", "system RAM (unknown)", 0, 0, 0)


# -- the probe -------------------------------------------------------------------------------


@dataclass
class HardwareProbe:
    """Takes ``HardwareSnapshot``s from injectable sources; never raises."""

    gpu_sources: Sequence[GpuSource] = field(default_factory=lambda: (NvmlSource(), AmdSource()))
    ram_source: RamSource = psutil_ram
    rss_source: RssSource = psutil_rss
    _reported: set[str] = field(default_factory=set, repr=False)

    def snapshot(self) -> HardwareSnapshot:
        """Probe every source now. Failures become notes (logged once each)."""
        start = time.perf_counter()
        notes: list[str] = []
        gpus: list[DeviceMemory] = []
        for source in self.gpu_sources:
            try:
                found = list(source())
            except ProbeUnavailable as exc:
                self._note(notes, str(exc), logging.INFO)
                continue
            except Exception as exc:  # noqa: BLE001 (a library that raises something unexpected)
                self._note(notes, f"GPU probe failed: {type(exc).__name__}: {exc}", logging.WARNING)
                continue
            gpus.extend(found)
        # one numbering across vendors, in the order found
        gpus = [_reindex(g, i) for i, g in enumerate(gpus)]
        try:
            ram = self.ram_source()
        except Exception as exc:  # noqa: BLE001 (a probe never raises)
            self._note(notes, f"RAM probe failed: {type(exc).__name__}: {exc}", logging.WARNING)
            ram = _no_ram()
        try:
            rss = self.rss_source()
        except Exception as exc:  # noqa: BLE001 (a probe never raises)
            self._note(notes, f"process memory probe failed: {exc}", logging.WARNING)
            rss = 0
        return HardwareSnapshot(tuple(gpus), ram, rss, tuple(notes), time.perf_counter() - start)

    def _note(self, notes: list[str], text: str, level: int) -> None:
        notes.append(text)
        if text not in self._reported:
            self._reported.add(text)
            log.log(level, "%s", text)


def _reindex(gpu: DeviceMemory, index: int) -> DeviceMemory:
    if gpu.index == index:
        return gpu
    return DeviceMemory(
        gpu.kind, gpu.name, gpu.total, gpu.used, gpu.free, index, gpu.vendor, gpu.driver
    )


def fixed_probe(
    gpus: Sequence[DeviceMemory] = (), ram: DeviceMemory | None = None, rss: int = 0
) -> HardwareProbe:
    """A probe that always reports the given machine (tests, ``--memory-budget`` previews)."""
    ram_dev = ram or DeviceMemory("ram", "system RAM", 16 * GiB, 4 * GiB, 12 * GiB)
    return HardwareProbe(
        gpu_sources=(lambda: list(gpus),), ram_source=lambda: ram_dev, rss_source=lambda: rss
    )
