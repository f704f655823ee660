"""The pages of the user guide: names and titles (no Textual, so it is cheap to import)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HOME_PAGE = "index.md"


@dataclass(frozen=True)
class Page:
    """One page of the guide: its path relative to the docs folder, and its title."""

    name: str
    title: str


def page_title(path: Path) -> str:
    """The page's first heading, or its file name."""
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    except OSError:
        pass
    return path.stem


def guide_pages(docs_dir: Path) -> list[Page]:
    """Every page of the guide (``*.md``, subfolders included), the home page first."""
    paths = sorted(docs_dir.rglob("*.md"), key=lambda p: (p.name != HOME_PAGE, str(p)))
    return [Page(p.relative_to(docs_dir).as_posix(), page_title(p)) for p in paths]
