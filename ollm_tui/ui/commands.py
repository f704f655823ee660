"""The command palette: every action by a namespaced name ("chat: New chat", "docs: Keys").

Adding a command is one line in :data:`PALETTE_COMMANDS` (an action string the app runs),
or one :func:`register_command` call from another module. Docs pages and themes are listed
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

from ollm_tui.ui.bindings import REGISTRY
from ollm_tui.ui.guide import guide_pages
from ollm_tui.ui.keys_pane import show_keys
from ollm_tui.ui.safe_text import safe, safe_str

if TYPE_CHECKING:
    from ollm_tui.ui.app import OllmApp


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry: ``name`` as "namespace: What it does", the action it runs."""

    name: str
    help: str
    action: str


PALETTE_COMMANDS: list[PaletteCommand] = [
    PaletteCommand("chat: New chat", "Start a new chat.", "new_chat"),
    PaletteCommand("chat: Rename…", "Rename the open chat.", "rename_chat"),
    PaletteCommand("chat: Delete…", "Delete the open chat (asks first).", "delete_chat"),
    PaletteCommand("chat: Regenerate reply", "Write the last reply again.", "regenerate"),
    PaletteCommand("chat: Stop reply", "Stop the reply being written.", "stop"),
    PaletteCommand("chat: Show or hide the chat list", "Toggle the sidebar.", "toggle_chats"),
    PaletteCommand("chat: Copy last code block", "Copy the last fenced code block.", "copy_code"),
    PaletteCommand(
        "model: Switch model…", "Pick another model; it reloads at its auto tier.", "pick_model"
    ),
    PaletteCommand(
        "context: Choose context size…", "Pick a context tier; the model reloads.", "pick_tier"
    ),
    PaletteCommand(
        "context: Token stats", "Context budget and token-count cache figures.", "token_stats"
    ),
    PaletteCommand(
        "context: Compress now",
        "Summarise the older messages into a checkpoint now.",
        "compress_now",
    ),
    PaletteCommand(
        "context: Undo last compression",
        "The model sees the messages of the last compression in full again.",
        "undo_compression",
    ),
    PaletteCommand(
        "context: Snapshots…", "Restore an earlier state of the chat's context.", "pick_snapshot"
    ),
    PaletteCommand(
        "export: Chat as Markdown", "Write the open chat to a .md file.", "export_chat('md')"
    ),
    PaletteCommand(
        "export: Chat as JSON", "Write the open chat to a .json file.", "export_chat('json')"
    ),
    PaletteCommand("pane: Chat", "Back to the chat.", "show_pane('chat')"),
    PaletteCommand("pane: Docs", "The user guide.", "show_pane('docs')"),
    PaletteCommand("pane: Keys", "Every key binding; change them.", "show_pane('keys')"),
    PaletteCommand(
        "keys: Reset all to defaults", "Forget every changed key (asks first).", "reset_keymap"
    ),
    PaletteCommand("app: Settings…", "Change the common settings.", "show_settings"),
    PaletteCommand("app: Quit", "Quit ollm (a reply being written is kept).", "quit"),
]
"""The fixed commands. Other modules add theirs with :func:`register_command`."""


def register_command(name: str, help: str, action: str) -> None:
    """Add a palette command (e.g. ``register_command("model: Switch…", "…", "pick_model")``)."""
    PALETTE_COMMANDS.append(PaletteCommand(name, help, action))


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
        """The help text, with the command's key in force (from the binding registry)."""
        entry = next(
            (e for e in REGISTRY if e.group == "Anywhere" and e.action == command.action), None
        )
        if entry is None:
            return command.help
        return f"{command.help} ({show_keys(_app(self).keymap.get(entry.id, entry.keys))})"

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
        chat_actions = {c.action for c in PALETTE_COMMANDS if c.name.startswith("chat:")}
        if action in chat_actions:
            await _app(self).action_show_pane("chat")  # chat commands act on the chat pane
        await self.app.run_action(action)


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
