"""The docs pane: the bundled user guide with a table of contents, links, back and forward.

The stock ``MarkdownViewer`` treats every link as a file (Textual issue #3817), so links are
handled here: ``page.md``, ``page.md#anchor`` and ``#anchor`` stay in the guide, anything
with a scheme (``https:``, ``mailto:``) goes to ``App.open_url``. A link outside the guide's
folder, or to a missing page, gives a warning toast and changes nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown
from textual.widgets.markdown import MarkdownTableOfContents

from ollm_tui.ui.bindings import DOCS_BINDINGS, PANE_BINDINGS
from ollm_tui.ui.guide import HOME_PAGE, page_title
from ollm_tui.ui.safe_text import safe, safe_markdown, safe_str
from ollm_tui.ui.slugs import Slugs  # the slugs Markdown's own goto_anchor uses

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


class DocsPane(Screen[None]):
    """Reads the guide in ``docs_dir``; keeps its page, history and scroll while hidden."""

    BINDINGS: ClassVar[list[BindingType]] = [*PANE_BINDINGS, *DOCS_BINDINGS]

    def __init__(self, docs_dir: Path) -> None:
        super().__init__(id="docs-pane")
        self.docs_dir = docs_dir.resolve()
        self.page: str = HOME_PAGE
        """The open page, relative to the docs folder."""
        self.history: list[str] = []
        """Pages (with their anchors) visited before this one, oldest first."""
        self.future: list[str] = []
        """Pages left with Back, for Forward."""

    def compose(self) -> ComposeResult:
        markdown = Markdown(id="docs-markdown", open_links=False)
        with Horizontal(id="docs-body"):
            yield MarkdownTableOfContents(markdown, id="docs-toc")
            with VerticalScroll(id="docs-scroll"):
                yield markdown
        yield Footer(compact=True, show_command_palette=False)

    @property
    def markdown(self) -> Markdown:
        """The page being shown."""
        return self.query_one("#docs-markdown", Markdown)

    async def on_mount(self) -> None:
        self.query_one("#docs-toc").border_title = "Contents"
        await self._show(self.page)
        self.query_one("#docs-scroll").focus()

    # -- navigation ----------------------------------------------------------------------

    def _resolve(self, target: str) -> tuple[str, str] | None:
        """The page (relative name) and anchor a link points to, or None if it is not a page."""
        path, _, anchor = target.partition("#")
        if not path:
            return self.page, anchor
        base = (self.docs_dir / self.page).parent
        dest = (base / path).resolve()
        if not dest.is_relative_to(self.docs_dir) or not dest.is_file():
            return None
        return dest.relative_to(self.docs_dir).as_posix(), anchor

    async def _show(self, page: str, anchor: str = "") -> None:
        path = self.docs_dir / page
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            self.notify(f"Cannot open {page}: {exc}", severity="error", markup=False)
            return
        self.page = page
        self.sub_title = safe_str(page)
        scroll = self.query_one("#docs-scroll", VerticalScroll)
        scroll.border_title = safe(page_title(path))
        await self.markdown.update(safe_markdown(text))
        scroll.scroll_home(animate=False)
        if anchor:
            self.call_after_refresh(self.goto_anchor, anchor)

    async def go(self, target: str) -> bool:
        """Follow a link from the open page (``page.md``, ``page.md#anchor``, ``#anchor``).

        External links open in the browser. Returns False for a link that leads nowhere.
        """
        if _SCHEME.match(target):
            self.app.open_url(target)
            return True
        resolved = self._resolve(target)
        if resolved is None:
            self.notify(f"No such page in the guide: {target}", severity="warning", markup=False)
            return False
        page, anchor = resolved
        self.history.append(self.page)
        self.future.clear()
        if page == self.page and anchor:
            self.goto_anchor(anchor)
        else:
            await self._show(page, anchor)
        return True

    def goto_anchor(self, anchor: str) -> bool:
        """Scroll the heading whose slug is ``anchor`` to the top; False if there is none."""
        slugs = Slugs()
        for _, title, block_id in self.markdown.table_of_contents:
            if slugs.slug(title) == anchor:
                block = self.markdown.query_one(f"#{block_id}")
                self.query_one("#docs-scroll", VerticalScroll).scroll_to_widget(
                    block, top=True, animate=False
                )
                return True
        self.notify(f"No section #{anchor} on {self.page}", severity="warning", markup=False)
        return False

    async def open_page(self, page: str, anchor: str = "") -> None:
        """Open a page by its name relative to the docs folder (history kept)."""
        await self.go(page + (f"#{anchor}" if anchor else ""))

    @on(Markdown.LinkClicked)
    async def _link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        await self.go(event.href)

    @on(Markdown.TableOfContentsUpdated)
    def _toc_updated(self, event: Markdown.TableOfContentsUpdated) -> None:
        self.query_one(MarkdownTableOfContents).table_of_contents = event.table_of_contents
        event.stop()

    @on(Markdown.TableOfContentsSelected)
    def _toc_selected(self, event: Markdown.TableOfContentsSelected) -> None:
        block = self.markdown.query_one(f"#{event.block_id}")
        self.query_one("#docs-scroll", VerticalScroll).scroll_to_widget(
            block, top=True, animate=False
        )
        event.stop()

    async def action_back(self) -> None:
        """The page read before this one."""
        if not self.history:
            self.notify("This is the first page you opened.", severity="information")
            return
        self.future.append(self.page)
        await self._show(self.history.pop())

    async def action_forward(self) -> None:
        """Forward again after Back."""
        if not self.future:
            return
        self.history.append(self.page)
        await self._show(self.future.pop())

    async def action_home(self) -> None:
        """The guide's first page."""
        await self.go(HOME_PAGE)

    def action_toggle_toc(self) -> None:
        """Show or hide the table of contents."""
        toc = self.query_one("#docs-toc")
        toc.display = not toc.display

    def action_search(self) -> None:
        """Search every page (the command palette, limited to the guide)."""
        self.app.action_command_palette()
        self.call_after_refresh(self._prefill_search)

    def _prefill_search(self) -> None:
        from textual.command import CommandInput

        for widget in self.app.screen.query(CommandInput):
            widget.value = "docs "
            widget.cursor_position = len(widget.value)
