"""The headless core never imports Textual or Rich (checked in a fresh interpreter)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import ollm_tui

HEADLESS = ("core", "engine", "store", "session", "settings")


def headless_modules() -> list[str]:
    root = Path(ollm_tui.__file__).parent
    names = ["ollm_tui.cli.doctor"]
    for pkg in HEADLESS:
        names.append(f"ollm_tui.{pkg}")
        names += [
            m.name for m in pkgutil.walk_packages([str(root / pkg)], prefix=f"ollm_tui.{pkg}.")
        ]
    return names


def test_headless_modules_exist() -> None:
    names = headless_modules()
    assert "ollm_tui.engine.llama.engine" in names and "ollm_tui.store.db" in names


def test_core_engine_store_never_import_textual_or_rich() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {headless_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"headless modules pulled in: {out.stdout.strip()}"


def test_the_check_would_notice_textual() -> None:
    """Guard against a vacuous test: importing the UI does pull Textual in."""
    code = "import sys, ollm_tui.ui.app; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr
