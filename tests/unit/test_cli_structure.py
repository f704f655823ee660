"""The command line's shape: light commands stay light, and one composition root.

``ollm --help`` and ``ollm models`` must not import llama-cpp-python or Textual (checked in
a fresh interpreter), and only ``cli/chat.py`` builds the objects a process runs on.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ollm_tui.cli

CLI = Path(ollm_tui.cli.__file__).parent

_PROBE = """
import contextlib, io, json, sys
from ollm_tui.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"llama_cpp", "textual", "rich"})
print(json.dumps({"code": code, "heavy": heavy}))
"""


@pytest.mark.parametrize("argv", [["--help"], ["models", "--json"], ["config", "show"]])
def test_light_commands_import_neither_llama_cpp_nor_textual(argv, tmp_path: Path) -> None:
    env = {
        "OLLM_DATA_DIR": str(tmp_path / "data"),
        "OLLM_CONFIG_DIR": str(tmp_path / "config"),
        "OLLM_LOG_DIR": str(tmp_path / "logs"),
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    assert result["heavy"] == [], f"`ollm {' '.join(argv)}` imported {result['heavy']}"


BUILT_ONLY_BY_THE_ROOT = {"Store", "Accounting", "ChatKvCache", "KvStateStore", "make_engine"}


def _calls(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                names.add(f.id)
            elif isinstance(f, ast.Attribute):
                names.add(f.attr)
    return names


def test_only_the_composition_root_builds_store_engine_accounting_and_kv_cache() -> None:
    offenders = {
        p.name: sorted(_calls(p) & BUILT_ONLY_BY_THE_ROOT)
        for p in sorted(CLI.glob("*.py"))
        if p.name != "chat.py" and _calls(p) & BUILT_ONLY_BY_THE_ROOT
    }
    assert offenders == {}
    assert _calls(CLI / "chat.py") >= BUILT_ONLY_BY_THE_ROOT  # the check is not vacuous


def test_every_command_module_is_short() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in CLI.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 500} == {}
    assert sizes["main.py"] < 100  # dispatching only
