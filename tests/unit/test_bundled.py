"""The bundled folders are found, and the user guide's internal links resolve."""

from __future__ import annotations

import re

import pytest

from ollm_tui.settings.resources import bundled_dir

LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_bundled_folders_are_found() -> None:
    assert (bundled_dir("profiles") / "smollm2.toml").is_file()
    assert (bundled_dir("docs") / "index.md").is_file()
    assert bundled_dir("themes").is_dir()
    with pytest.raises(ValueError, match="unknown bundled folder 'secrets'"):
        bundled_dir("secrets")


def _anchors(text: str) -> set[str]:
    out = set()
    for line in text.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            out.add(slug)
    return out


def test_every_internal_link_in_the_guide_resolves() -> None:
    docs = bundled_dir("docs")
    pages = sorted(docs.rglob("*.md"))
    assert len(pages) >= 8
    checked = 0
    for page in pages:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            assert dest.is_file(), f"{page.name}: broken link {target}"
            if anchor and dest.suffix == ".md":
                assert anchor in _anchors(dest.read_text(encoding="utf-8")), (
                    f"{page.name}: no anchor {target}"
                )
            checked += 1
    assert checked > 10
