"""The import contract: layers point down, and the headless packages never import Textual or Rich.

The contracts are written once, in ``pyproject.toml`` (``[tool.importlinter]``). Two checkers
read them:

- import-linter (``lint-imports``, on grimp's import graph), run here in a subprocess;
- this module's own walk over the syntax trees, which needs only the standard library.

Both see every import statement: module-level, function-level, ``if TYPE_CHECKING:`` and
``try:`` ones. ``test_layers.py`` is the runtime half (a fresh interpreter imports the headless
modules and finds no Textual). Each checker is also run on a small synthetic package with a
planted violation, to prove it can fail.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ollm_tui

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
PACKAGE = Path(ollm_tui.__file__).resolve().parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@dataclass(frozen=True)
class Import:
    """One import statement's target, as seen from the module that holds it."""

    importer: str  # the importing module, e.g. ``ollm_tui.settings``
    imported: str  # the module imported (``from a.b import c`` gives ``a.b``, or ``a.b.c``
    #                when ``c`` is a module of the tree)
    path: Path
    line: int


def contracts(pyproject: Path = PYPROJECT) -> list[dict[str, Any]]:
    """The import-linter contracts of ``pyproject.toml``."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return found


def _module_name(package_dir: Path, path: Path) -> str:
    parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def collect_imports(package_dir: Path) -> list[Import]:
    """Every import in every module under ``package_dir``, nested ones included."""
    modules = {_module_name(package_dir, p) for p in package_dir.rglob("*.py")}
    found: list[Import] = []
    for path in sorted(package_dir.rglob("*.py")):
        importer = _module_name(package_dir, path)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):  # ast.walk reaches function bodies and if/try blocks
            if isinstance(node, ast.Import):
                found += [Import(importer, a.name, path, node.lineno) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against the importer's package
                    anchor = importer.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    target = sub if sub in modules else base
                    found.append(Import(importer, target, path, node.lineno))
    return found


def _within(module: str, parent: str) -> bool:
    return module == parent or module.startswith(parent + ".")


def _ignore_pattern(expression: str) -> re.Pattern[str]:
    """import-linter's ``ignore_imports`` syntax: ``a.b -> c.*`` (``*`` one name, ``**`` any)."""

    def part(text: str) -> str:
        out = re.escape(text.strip())
        return out.replace(r"\*\*", r"[\w.]+").replace(r"\*", r"\w+")

    importer, imported = expression.split("->")
    return re.compile(rf"{part(importer)} -> {part(imported)}")


def violations(imports: list[Import], rules: list[dict[str, Any]]) -> list[str]:
    """The imports that break a ``layers`` or ``forbidden`` contract, one line each."""
    problems: list[str] = []
    for contract in rules:
        ignored = [_ignore_pattern(e) for e in contract.get("ignore_imports", [])]

        def allowed(imp: Import, ignored: list[re.Pattern[str]] = ignored) -> bool:
            return any(p.fullmatch(f"{imp.importer} -> {imp.imported}") for p in ignored)

        def report(imp: Import, why: str, contract: dict[str, Any] = contract) -> None:
            where = f"{imp.path}:{imp.line}"
            problems.append(
                f"{where}: {imp.importer} imports {imp.imported} ({why}; {contract['id']})"
            )

        if contract["type"] == "layers":
            layer: dict[str, tuple[int, bool]] = {}  # module -> (rank, independent siblings)
            for rank, entry in enumerate(contract["layers"]):
                independent = "|" in entry
                for name in re.split(r"[|:]", entry):
                    layer[name.strip()] = (rank, independent)

            def home(module: str, layer: dict[str, tuple[int, bool]] = layer) -> str | None:
                return next((name for name in layer if _within(module, name)), None)

            for imp in imports:
                src, dst = home(imp.importer), home(imp.imported)
                if src is None or dst is None or src == dst or allowed(imp):
                    continue
                (src_rank, independent), (dst_rank, _) = layer[src], layer[dst]
                if dst_rank < src_rank:
                    report(imp, f"{src} sits below {dst}")
                elif dst_rank == src_rank and independent:
                    report(imp, f"{src} and {dst} are independent siblings")
        elif contract["type"] == "forbidden":
            for imp in imports:
                if (
                    any(_within(imp.importer, s) for s in contract["source_modules"])
                    and any(_within(imp.imported, f) for f in contract["forbidden_modules"])
                    and not allowed(imp)
                ):
                    report(imp, "forbidden")
        else:  # pragma: no cover - a contract type this walk does not know yet
            problems.append(f"{contract['id']}: this test cannot check type {contract['type']!r}")
    return problems


# -- the real tree ---------------------------------------------------------------------------


def test_the_package_keeps_the_import_contracts() -> None:
    found = violations(collect_imports(PACKAGE), contracts())
    assert not found, "imports against the layer rule (CONTRIBUTING.md):\n" + "\n".join(found)


def test_the_walk_sees_deferred_imports_in_the_real_tree() -> None:
    """Guard against a vacuous walk: every import inside a function is collected, and the
    UI's Textual imports are too."""
    imports = collect_imports(PACKAGE)
    assert any(
        i.importer.startswith("ollm_tui.ui") and _within(i.imported, "textual") for i in imports
    )
    nested: set[tuple[Path, int]] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                nested |= {
                    (path, n.lineno)
                    for n in ast.walk(node)
                    if isinstance(n, ast.Import | ast.ImportFrom)
                }
    assert len(nested) > 20
    assert nested <= {(i.path, i.line) for i in imports}


def test_lint_imports_keeps_the_contracts() -> None:
    if not LINT_IMPORTS.exists():
        pytest.fail(
            "lint-imports is missing: it comes with the test extras (bash .ci/bootstrap test)"
        )
    out = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, f"lint-imports found broken contracts:\n{out.stdout}\n{out.stderr}"


# -- a synthetic tree with planted violations: each checker can fail -------------------------

LAYERS = ("cli", "ui", "session", "engine", "store", "settings", "core")


def make_tree(root: Path, planted: dict[str, str]) -> Path:
    """A package named ``ollm_tui`` under ``root`` with one empty module per layer, plus
    ``planted`` (relative path -> source)."""
    package = root / "ollm_tui"
    for name in LAYERS:
        (package / name).mkdir(parents=True)
        (package / name / "__init__.py").write_text('"""Layer."""\n')
    (package / "__init__.py").write_text('"""Synthetic."""\n')
    (package / "cli" / "doctor.py").write_text('"""Doctor."""\n')
    for rel, source in planted.items():
        (package / rel).write_text(source)
    return package


UPWARD_IN_A_FUNCTION = '''"""Core reaching up into the UI, hidden inside a function."""


def probe() -> object:
    from ollm_tui.ui import widgets

    return widgets
'''

PLANTED = {
    "core/probe.py": UPWARD_IN_A_FUNCTION,
    "ui/widgets.py": '"""Widgets."""\n',
    "engine/uses_store.py": (
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from ollm_tui.store import db\n"
    ),
    "store/db.py": '"""Db."""\n',
    "store/draws.py": "def draw() -> None:\n    import rich.text\n",
    "settings/relative.py": "from ..session import chat\n",
    "session/chat.py": '"""Chat."""\n',
    # allowed: an import that points down, and the UI may use Textual
    "ui/fine.py": "import textual.app\nfrom ollm_tui.core import probe\n",
}


def test_the_walk_reports_each_planted_violation(tmp_path: Path) -> None:
    package = make_tree(tmp_path, PLANTED)
    found = violations(collect_imports(package), contracts())
    text = "\n".join(found)
    assert "probe.py:5: ollm_tui.core.probe imports ollm_tui.ui.widgets" in text  # function-level
    assert "ollm_tui.engine.uses_store imports ollm_tui.store.db" in text  # siblings, TYPE_CHECKING
    assert "independent siblings" in text
    assert "ollm_tui.store.draws imports rich.text (forbidden; headless)" in text
    assert "ollm_tui.settings.relative imports ollm_tui.session.chat" in text  # relative import
    assert "ollm_tui.ui.fine" not in text
    assert len(found) == 4, text


def test_the_walk_honours_ignore_imports(tmp_path: Path) -> None:
    package = make_tree(tmp_path, {"core/probe.py": UPWARD_IN_A_FUNCTION, "ui/widgets.py": ""})
    rules = [dict(c, ignore_imports=["ollm_tui.core.* -> ollm_tui.ui.**"]) for c in contracts()]
    assert violations(collect_imports(package), rules) == []


def test_lint_imports_sees_a_function_level_violation(tmp_path: Path) -> None:
    """The configured contract (pyproject.toml as it is) run on a tree with one planted import."""
    if not LINT_IMPORTS.exists():
        pytest.fail(
            "lint-imports is missing: it comes with the test extras (bash .ci/bootstrap test)"
        )
    make_tree(tmp_path, {"core/probe.py": UPWARD_IN_A_FUNCTION, "ui/widgets.py": '"""W."""\n'})
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}  # the synthetic ollm_tui shadows the real one
    out = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "BROKEN" in out.stdout and "ollm_tui.core.probe -> ollm_tui.ui.widgets" in out.stdout, (
        out.stdout
    )
