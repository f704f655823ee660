"""Memory probes: real ones on this machine, and NVML present, missing or failing."""

from __future__ import annotations

from types import SimpleNamespace

from ollm_tui.core.hardware import (
    AmdSource,
    DeviceMemory,
    GiB,
    HardwareProbe,
    NvmlSource,
    format_bytes,
)


class FakeNvml:
    """Just enough of pynvml to describe some GPUs; ``fail`` makes nvmlInit raise."""

    def __init__(self, gpus: list[tuple[str, int, int]], fail: Exception | None = None) -> None:
        self.gpus = gpus
        self.fail = fail
        self.inits = 0

    def nvmlInit(self) -> None:
        self.inits += 1
        if self.fail:
            raise self.fail

    def nvmlSystemGetDriverVersion(self) -> bytes:
        return b"550.54"

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, h: int) -> str:
        return self.gpus[h][0]

    def nvmlDeviceGetMemoryInfo(self, h: int) -> SimpleNamespace:
        _, total, used = self.gpus[h]
        return SimpleNamespace(total=total, used=used, free=total - used)


def _ram() -> DeviceMemory:
    return DeviceMemory("ram", "system RAM", 8 * GiB, 2 * GiB, 6 * GiB)


def test_real_probe_on_this_machine_sees_ram_and_never_raises() -> None:
    snap = HardwareProbe().snapshot()
    assert snap.ram.total > 1 * GiB
    assert 0 < snap.ram.free <= snap.ram.total
    assert snap.process_rss > 10 * 1024**2
    # a second sample (what the memory guard does every 2 s) is cheap: NVML is not retried
    again = HardwareProbe().snapshot()
    assert again.ram.total == snap.ram.total


def test_nvml_reports_every_gpu_with_driver() -> None:
    fake = FakeNvml([("RTX 4090", 24 * GiB, 1 * GiB), ("RTX 3060", 12 * GiB, 11 * GiB)])
    probe = HardwareProbe(gpu_sources=(NvmlSource(fake),), ram_source=_ram)
    snap = probe.snapshot()
    assert [g.name for g in snap.gpus] == ["RTX 4090", "RTX 3060"]
    assert snap.gpus[0].free == 23 * GiB and snap.gpus[0].driver == "550.54"
    assert [g.label for g in snap.gpus] == ["GPU0", "GPU1"]
    assert snap.best_gpu() is snap.gpus[0]
    assert snap.notes == ()


def test_nvml_raising_falls_back_to_ram_once_and_is_noted() -> None:
    fake = FakeNvml([("X", GiB, 0)], fail=RuntimeError("Driver Not Loaded"))
    probe = HardwareProbe(gpu_sources=(NvmlSource(fake),), ram_source=_ram)
    first, second = probe.snapshot(), probe.snapshot()
    assert first.gpus == () and first.ram.total == 8 * GiB
    assert any("Driver Not Loaded" in n for n in first.notes)
    assert fake.inits == 1  # not retried on every sample
    assert second.notes == first.notes


def test_nvml_missing_library_is_the_real_case_here() -> None:
    # nvidia-ml-py is installed but this machine has no NVIDIA driver
    snap = HardwareProbe(gpu_sources=(NvmlSource(),), ram_source=_ram).snapshot()
    assert snap.gpus == ()
    assert any(n.startswith("NVIDIA") for n in snap.notes)


def test_without_the_nvml_library_pynvml_is_not_imported(monkeypatch) -> None:
    import ctypes
    import sys

    def no_library(name: str, *args: object, **kwargs: object) -> None:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_library)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setitem(sys.modules, "pynvml", None)  # importing it would raise ImportError
    snap = HardwareProbe(gpu_sources=(NvmlSource(),), ram_source=_ram).snapshot()
    assert snap.gpus == ()
    assert "NVIDIA: NVML unavailable (NVML Shared Library Not Found)" in snap.notes


def test_the_early_no_library_note_is_what_pynvml_says() -> None:
    import ctypes

    import pytest

    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        pass
    else:
        pytest.skip("this machine has the NVML library")
    import pynvml

    with pytest.raises(pynvml.NVMLError) as failure:
        pynvml.nvmlInit()
    assert f"NVIDIA: NVML unavailable ({failure.value})" == (
        "NVIDIA: NVML unavailable (NVML Shared Library Not Found)"
    )


def test_a_source_raising_anything_is_survived() -> None:
    def broken() -> list[DeviceMemory]:
        raise ZeroDivisionError("boom")

    def no_ram() -> DeviceMemory:
        raise OSError("no /proc")

    snap = HardwareProbe(gpu_sources=(broken,), ram_source=no_ram, rss_source=lambda: 1).snapshot()
    assert snap.gpus == () and snap.ram.total == 0
    assert any("boom" in n for n in snap.notes) and any("no /proc" in n for n in snap.notes)


def test_amd_sysfs(tmp_path) -> None:
    dev = tmp_path / "card0" / "device"
    dev.mkdir(parents=True)
    (dev / "mem_info_vram_total").write_text(str(16 * GiB))
    (dev / "mem_info_vram_used").write_text(str(4 * GiB))
    (tmp_path / "card1").mkdir()  # an output connector without memory files
    gpus = AmdSource(drm=tmp_path, rocm_smi=None)()
    assert len(gpus) == 1 and gpus[0].free == 12 * GiB and gpus[0].vendor == "amd"


def test_format_bytes() -> None:
    assert format_bytes(300 * 1024**2) == "300 MiB"
    assert format_bytes(21.2 * GiB) == "21.2 GiB"
