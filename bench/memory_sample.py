"""What one memory sample costs (the memory guard takes one every 2 s by default).

    .venv/bin/python bench/memory_sample.py [--samples 200]

Prints the first probe (imports psutil, tries NVML once) and the median and worst of the
following ones, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time

from ollm_tui.core.hardware import HardwareProbe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    probe = HardwareProbe()
    start = time.perf_counter()
    snap = probe.snapshot()
    first = time.perf_counter() - start
    times = []
    for _ in range(args.samples):
        start = time.perf_counter()
        probe.snapshot()
        times.append(time.perf_counter() - start)
    print(f"devices: {', '.join(d.label for d in (*snap.gpus, snap.ram))}")
    print(f"first sample   {first * 1000:7.2f} ms")
    print(f"median sample  {statistics.median(times) * 1000:7.2f} ms")
    print(f"worst sample   {max(times) * 1000:7.2f} ms  (of {args.samples})")


if __name__ == "__main__":
    main()
