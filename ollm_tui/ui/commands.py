"""The command palette: every action by a namespaced name ("chat: New chat", "docs: Keys").

The fixed commands are generated from the one command registry, ``COMMANDS`` in
``ui/bindings.py``, which the key bindings come from too: adding a command is one entry
there (and its place in ``PALETTE_ORDER``). Docs pages and themes are listed
from the guide folder and the registered themes; "docs <words>" searches the guide's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from ollm_tui.ui.bindings import COMMANDS, PALETTE_ORDER
from ollm_tui.ui.guide import guide_pages
from ollm_tui.ui.safe_text import safe, safe_str
from ollm_tui.ui.screens.keys_pane import show_keys

if TYPE_CHECKING:
    from ollm_tui.ui.app import OllmApp


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry: ``name`` as "namespace: What it does", the action it runs."""

    name: str
    help: str
    action: str
    key_id: str | None = None
    """The binding that runs the same action (its key is shown with the help)."""


_BY_ACTION = {c.action: c for c in COMMANDS}

PALETTE_COMMANDS: tuple[PaletteCommand, ...] = tuple(
    PaletteCommand(c.palette or c.action, c.help, c.action, c.id if c.key else None)
    for c in (_BY_ACTION[action] for action in PALETTE_ORDER)
)
"""The fixed commands, generated from the one registry (``ui/bindings.py`` ``COMMANDS``)."""


def _app(provider: Provider) -> OllmApp:
    return provider.app  # type: ignore[return-value]


class OllmCommands(Provider):
    """The app's commands, docs pages and themes."""

    def _all(self) -> list[tuple[str, str, str]]:
        app = _app(self)
        out = [(c.name, self._with_key(c), c.action) for c in PALETTE_COMMANDS]
        for page in guide_pages(app.docs_dir):
            out.append((f"docs: {page.title}", f"Open {page.name}", f"open_doc({page.name!r})"))
        for chat in app.store.list_chats():
            out.append(
                (f"chat: Open “{chat.title}”", "Switch to this chat.", f"open_chat_id({chat.id})")
            )
        for name in sorted(app.available_themes):
            if not name.startswith("textual-ansi"):
                out.append(
                    (f"theme: {name}", "Switch to this theme (remembered).", f"set_theme({name!r})")
                )
        return out

    def _with_key(self, command: PaletteCommand) -> str:
        """The help text, with the command's key in force (the user's keymap first)."""
        entry = _BY_ACTION[command.action]
        if command.key_id is None or entry.key is None:
            return command.help
        return f"{command.help} ({show_keys(_app(self).keymap.get(command.key_id, entry.key))})"

    async def discover(self) -> Hits:
        for name, help_text, action in self._all():
            yield DiscoveryHit(
                safe(name), partial(self._run, action), help=escape(safe_str(help_text))
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, action in self._all():
            score = matcher.match(name)
            if score > 0:
                # highlight() parses its argument as markup: chat titles are shown literally
                plain = safe_str(name)
                shown = matcher.highlight(plain) if "[" not in plain else safe(name)
                yield Hit(
                    score, shown, partial(self._run, action), help=escape(safe_str(help_text))
                )

    async def _run(self, action: str) -> None:
        app = _app(self)
        chat_actions = {c.action for c in PALETTE_COMMANDS if c.name.startswith("chat:")}
        if action in chat_actions:
            await app.workspace.show_pane("chat")  # chat commands act on the chat pane
        screen = app.chat_screen
        if hasattr(screen, f"action_{action.partition('(')[0]}"):
            if app.screen is screen:  # the chat screen's keys work only where it is shown
                await app.run_action(action, screen)
            return
        await app.run_action(action)


@dataclass(frozen=True)
class Section:
    """A section of a guide page: the page, the heading's anchor and title, its text."""

    page: str
    anchor: str
    heading: str
    text: str


def _slug(title: str) -> str:
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def guide_sections(docs_dir: Path) -> list[Section]:
    """Every section of every page (text under one heading), for the search."""
    out: list[Section] = []
    for page in guide_pages(docs_dir):
        heading, anchor, lines = page.title, "", []
        for line in (docs_dir / page.name).read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                out.append(Section(page.name, anchor, heading, "\n".join(lines)))
                heading = line.lstrip("#").strip()
                anchor, lines = _slug(heading), []
            else:
                lines.append(line)
        out.append(Section(page.name, anchor, heading, "\n".join(lines)))
    return out


def search_guide(sections: list[Section], query: str) -> list[tuple[Section, str, float]]:
    """Sections holding every word of ``query`` (case-insensitive), with a snippet and a score.

    The score (0.3 to 1) grows with the share of the words found in the section's heading.
    """
    words = [w for w in query.lower().split() if w]
    if not words:
        return []
    hits = []
    for section in sections:
        haystack = f"{section.heading}\n{section.text}".lower()
        if all(w in haystack for w in words):
            at = haystack.find(words[0])
            flat = " ".join(f"{section.heading}\n{section.text}"[max(0, at - 30) : at + 60].split())
            in_heading = sum(w in section.heading.lower() for w in words) / len(words)
            hits.append((section, flat, 0.3 + 0.7 * in_heading))
    return sorted(hits, key=lambda hit: -hit[2])


class DocsSearch(Provider):
    """Full-text search of the guide: type "docs" and words, e.g. "docs threads"."""

    async def startup(self) -> None:
        self._sections = guide_sections(_app(self).docs_dir)

    async def search(self, query: str) -> Hits:
        text = query.strip()
        if not text.lower().startswith("docs") or len(text) <= 5:
            return
        for section, snippet, score in search_guide(self._sections, text[4:].lstrip(": ")):
            target = section.page + (f"#{section.anchor}" if section.anchor else "")
            yield Hit(
                score,
                safe(f"docs › {section.heading} ({section.page})"),
                partial(self._open, target),
                help=escape(safe_str(snippet)),
            )

    async def _open(self, target: str) -> None:
        page, _, anchor = target.partition("#")
        await _app(self).action_open_doc(page, anchor)
