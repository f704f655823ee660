"""Parsing setting values from text (environment variables, flags, the config file).

A leaf: it imports nothing else from ``ollm_tui.settings`` (``config_file`` and ``Settings``
both use it), so the settings modules import each other in one direction only.
"""

from __future__ import annotations

import re


class SettingsError(ValueError):
    """A setting has a value that cannot be used (the message names it)."""


def parse_threads(value: str, where: str) -> int:
    """A positive thread count, or SettingsError naming ``where``."""
    try:
        n = int(value)
    except ValueError:
        raise SettingsError(f"{where}: expected a whole number of threads, got {value!r}") from None
    if not 1 <= n <= 256:
        raise SettingsError(f"{where}: threads must be between 1 and 256, got {n}")
    return n


def parse_bool(value: str, where: str) -> bool:
    """1/0, on/off, true/false, yes/no, or SettingsError naming ``where``."""
    text = value.strip().lower()
    if text in {"1", "on", "true", "yes"}:
        return True
    if text in {"0", "off", "false", "no"}:
        return False
    raise SettingsError(f"{where}: expected on or off, got {value!r}")


def parse_context(value: str, where: str) -> int:
    """A context size like 4096, 4k or 8K, or SettingsError naming ``where``."""
    text = value.strip().lower()
    try:
        n = int(text[:-1]) * 1024 if text.endswith("k") else int(text)
    except ValueError:
        raise SettingsError(
            f"{where}: expected a context size like 4096 or 8k, got {value!r}"
        ) from None
    if not 256 <= n <= 1024 * 1024:
        raise SettingsError(f"{where}: context size must be between 256 and 1M tokens, got {n}")
    return n


_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1000,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1000**4,
    "tib": 1024**4,
}


def parse_size(value: str, where: str) -> int:
    """A memory size like 300MiB, 1.5G, 2GB or 512m, or SettingsError naming ``where``.

    Plain numbers are bytes; k/m/g/t and KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB
    powers of 1000. At least 16 MiB.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise SettingsError(
            f"{where}: expected a memory size like 300MiB, 2GiB or 1.5G, got {value!r}"
        )
    n = int(float(match.group(1)) * _UNITS[unit])
    if n < 16 * 1024**2:
        raise SettingsError(
            f"{where}: a memory budget below 16 MiB cannot hold any model, got {value!r}"
        )
    return n


def parse_tier_setting(value: str, where: str) -> int | None:
    """``auto`` (None) or a context size from the tier table, or SettingsError naming ``where``."""
    from ollm_tui.core.tiers import TierError, parse_tier

    try:
        return parse_tier(value)
    except TierError as exc:
        raise SettingsError(f"{where}: {exc}") from None
