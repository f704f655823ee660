"""Where the bundled ``themes/``, ``profiles/`` and ``docs/`` folders are.

A wheel carries them inside the package as ``ollm_tui/_bundled/<name>`` (hatchling
``force-include``); a source checkout or an editable install has them at the repository's
top level, beside the package. Both are checked, the wheel layout first.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
"""The ``ollm_tui`` package folder."""


def bundled_dir(name: str) -> Path:
    """The bundled folder ``name`` (one of themes, profiles, docs)."""
    if name not in {"themes", "profiles", "docs"}:
        raise ValueError(f"unknown bundled folder {name!r}")
    inside = _PACKAGE_DIR / "_bundled" / name
    if inside.is_dir():
        return inside
    return _PACKAGE_DIR.parent / name
