"""The workspace around the chat: panes, the keymap, themes, settings, export (``Workspace``).

The app's collaborator for everything that is not the chat itself. The docs and keys panes are
installed screens: pushed over the chat and popped back, they keep their state.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen

from ollm_tui.settings import DEFAULT_THEME
from ollm_tui.settings.config_file import KEYS_BY_NAME, keymap_problems, set_value
from ollm_tui.settings.resources import bundled_dir
from ollm_tui.ui.bindings import REGISTRY_BY_ID, key_problem, split_keys
from ollm_tui.ui.guide import page_title
from ollm_tui.ui.screens.dialogs import ConfirmDialog
from ollm_tui.ui.themes import load_themes

if TYPE_CHECKING:
    from textual.command import Provider

    from ollm_tui.ui.app import OllmApp

PANES: tuple[str, ...] = ("docs", "keys")
"""The panes besides the chat (installed screens, by name)."""

CHAT_PANE = "chat"
"""The chat screen's pane name (the app's default screen)."""


def commands_provider() -> type[Provider]:
    """The palette's commands (imported when the palette first opens, not at start)."""
    from ollm_tui.ui.commands import OllmCommands

    return OllmCommands


def docs_search_provider() -> type[Provider]:
    """The palette's search of the guide."""
    from ollm_tui.ui.commands import DocsSearch

    return DocsSearch


def _first_theme(app: App[None], name: str) -> None:
    """Start on theme ``name``. Setting ``App.theme`` before the app runs schedules a full
    re-parse and restyle of the CSS for the first frame (~40 ms); when the theme is as dark
    as the one the app was built with, its variables and class are set directly instead,
    which is all that watcher would change before anything is mounted."""
    theme = app.get_theme(name)
    if name == app.theme:
        return
    if theme is None or theme.dark != app.current_theme.dark:
        app.theme = name  # a light theme also changes the ANSI colour filter
        return
    before = app.current_theme.name
    app.set_reactive(App.theme, name)
    app.stylesheet.set_variables(app.get_css_variables())
    app.update_classes({f"-theme-{before}": False, f"-theme-{name}": True}, update=False)


class Workspace:
    """Panes, keymap, themes, settings and export for the app."""

    docs_dir: Path = bundled_dir("docs")
    """The user guide (a test may point it at another folder)."""

    def __init__(self, app: OllmApp) -> None:
        """Register the themes, pick the theme and apply the keymap, before the app runs.

        Doing this before the first frame means no restyle of the whole app while it starts.
        The problems found are shown by :meth:`show_problems` once it runs.
        """
        self.app = app
        self.doc_hint: str | None = None
        """The guide page (``page.md#anchor``) the last ``notify_doc`` toast pointed to."""
        settings = app.settings
        problems = [f"Settings: {p}" for p in settings.config_problems]
        bad = keymap_problems(settings.config_file, settings.keymap, set(REGISTRY_BY_ID))
        problems += [f"Settings: {p}" for p in bad]
        self.keymap: dict[str, str] = {
            k: v for k, v in settings.keymap.items() if k in REGISTRY_BY_ID
        }
        """The user's changed bindings (binding id -> keys), as in the config file."""
        app.set_keymap(self.keymap)
        themes, theme_errors = load_themes([bundled_dir("themes"), settings.user_themes_dir])
        for theme in themes:
            app.register_theme(theme)
        wanted = settings.theme
        if wanted not in app.available_themes:
            problems.append(f"Theme {wanted!r} is not available: using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME if DEFAULT_THEME in app.available_themes else "textual-dark"
        _first_theme(app, wanted)
        found: list[tuple[str, SeverityLevel]] = [(p, "warning") for p in problems]
        self._problems = found + [(e, "error") for e in theme_errors]

    def show_problems(self) -> None:
        """Toast what the setup found: settings problems as warnings, broken theme files as
        errors (one each, naming the file)."""
        for message, severity in self._problems:
            title = "Error" if severity == "error" else "Warning"
            self.app.notify(message, title=title, severity=severity, markup=False, timeout=10)

    def pane_screen(self, name: str) -> Screen[None]:
        """The docs or keys pane, built and installed the first time it is asked for.

        Built on demand so the app's start does not import and build them.
        """
        app = self.app
        if not app.is_screen_installed(name):
            if name == "docs":
                from ollm_tui.ui.screens.docs_pane import DocsPane

                app.install_screen(DocsPane(self.docs_dir), "docs")
            else:
                from ollm_tui.ui.screens.keys_pane import KeysPane

                app.install_screen(KeysPane(), "keys")
        return app.get_screen(name)

    # -- panes ---------------------------------------------------------------------------

    @property
    def pane(self) -> str:
        """The pane on screen: chat, docs or keys."""
        app = self.app
        for name in PANES:
            if app.is_screen_installed(name) and app.get_screen(name) is app.screen:
                return name
        return CHAT_PANE

    def notify_doc(
        self,
        message: str,
        target: str,
        *,
        severity: SeverityLevel = "information",
        timeout: float = 10,
        title: str = "",
    ) -> None:
        """A toast that points to a page of the guide (``page.md#anchor``): F1 opens it there.

        ``message`` is shown literally (never parsed as markup).
        """
        page = page_title(self.docs_dir / target.partition("#")[0])
        self.doc_hint = target
        self.app.notify(
            f"{message}\nF1: {page} in the guide",
            title=title,
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    async def show_pane(self, name: str) -> None:
        """Show a pane; asking for the pane already shown goes back to the chat.

        Opening the docs after a toast from ``notify_doc`` shows the page it pointed to.
        """
        app = self.app
        if isinstance(app.screen, ModalScreen):
            return
        hint, self.doc_hint = self.doc_hint, None
        if name == "docs" and hint and self.pane != "docs":
            page, _, anchor = hint.partition("#")
            await self.open_doc(page, anchor)
            return
        if name == self.pane:
            name = CHAT_PANE
        if name == CHAT_PANE:
            while self.pane != CHAT_PANE and len(app.screen_stack) > 1:
                await app.pop_screen()
            return
        screen = self.pane_screen(name)
        if self.pane == CHAT_PANE:
            await app.push_screen(screen)
        else:
            await app.switch_screen(screen)

    async def open_doc(self, page: str, anchor: str = "") -> None:
        """Open the docs pane at a page (``notify_doc`` toasts lead here)."""
        if self.pane != "docs":
            await self.show_pane("docs")
        from ollm_tui.ui.screens.docs_pane import DocsPane

        docs = self.pane_screen("docs")
        assert isinstance(docs, DocsPane)
        await docs.open_page(page, anchor)

    async def open_chat_id(self, chat_id: int) -> None:
        """Open a chat by id (from the palette), showing the chat pane."""
        from ollm_tui.ui.widgets.chat_list import ChatList

        await self.show_pane(CHAT_PANE)
        self.app.chat_screen.post_message(ChatList.ChatChosen(chat_id))

    # -- keymap ----------------------------------------------------------------------------

    def remap(self, binding_id: str, keys: str | None) -> bool:
        """Bind ``binding_id`` to ``keys`` (None: its default), apply it and save it.

        Refuses (with a toast, returning False) keys another binding uses where this one works.
        """
        from ollm_tui.ui.screens.keys_pane import show_keys

        app = self.app
        entry = REGISTRY_BY_ID[binding_id]
        if keys is not None:
            for key in split_keys(keys):
                problem = key_problem(binding_id, key, self.keymap)
                if problem:
                    app.notify(f"{show_keys(key)}: {problem}", severity="error", markup=False)
                    return False
        if keys is None or keys == entry.keys:
            self.keymap.pop(binding_id, None)
            keys = None
        else:
            self.keymap[binding_id] = keys
        app.set_keymap(dict(self.keymap))
        self._save_setting(binding_id, keys, "keymap")
        shown = show_keys(keys or entry.keys)
        app.notify(f"{binding_id}: {shown}" + (" (default)" if keys is None else ""), markup=False)
        return True

    def reset_keymap(self) -> None:
        """Give every binding its default keys back, after asking."""
        app = self.app

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            for binding_id in list(self.keymap):
                self._save_setting(binding_id, None, "keymap")
            self.keymap.clear()
            app.set_keymap({})
            if app.is_screen_installed("keys"):
                from ollm_tui.ui.screens.keys_pane import KeysPane

                keys = app.get_screen("keys")
                if isinstance(keys, KeysPane) and keys.is_mounted:
                    keys.refresh_rows()
            app.notify("Every key is back to its default.")

        app.push_screen(
            ConfirmDialog("Reset keys", "Give every binding its default key back?", "Reset"),
            answered,
        )

    # -- themes ----------------------------------------------------------------------------

    def set_theme(self, name: str) -> None:
        """Switch to a theme and remember it in the config file."""
        if name not in self.app.available_themes:
            self.app.notify(f"No theme called {name!r}", severity="error", markup=False)
            return
        self.app.theme = name
        self._save_setting("theme", name)

    def _save_setting(self, key: str, value: object | None, table: str | None = None) -> None:
        config_file = self.app.settings.config_file
        try:
            set_value(config_file, key, value, table)
        except OSError as exc:
            self.app.notify(
                f"Could not save the setting to {config_file}: {exc}",
                severity="error",
                markup=False,
            )

    # -- settings --------------------------------------------------------------------------

    def show_settings(self) -> None:
        """Open the settings form."""
        from ollm_tui.ui.screens.settings_form import SettingsScreen

        if not isinstance(self.app.screen, ModalScreen):
            self.app.push_screen(SettingsScreen())

    def apply_settings(self, file_values: dict[str, object], changes: dict[str, object]) -> None:
        """Save config keys (``file_values``) and use the Settings ``changes`` that apply now."""
        from ollm_tui.ui.screens.settings_form import RESTART_KEYS

        for key, value in file_values.items():
            self._save_setting(key, value)
        later = {f for k in RESTART_KEYS for f in KEYS_BY_NAME[k].fields}
        now = {k: v for k, v in changes.items() if k not in later}
        if now:
            self.app.use_settings(self.app.settings.with_(**now))

    # -- export ----------------------------------------------------------------------------

    def export_chat(self, fmt: str) -> None:
        """Write the open chat as Markdown or JSON into the exports folder."""
        from ollm_tui.store.export import write_export

        app = self.app
        chat, store = app.chat, app.store
        try:
            path = write_export(
                chat,
                store.messages(chat.id),
                fmt,
                app.settings.export_dir,
                store.all_checkpoints(chat.id),
                store.active_context(chat.id).checkpoint_ids,
            )
        except OSError as exc:
            app.notify(f"Export failed: {exc}", severity="error", markup=False)
            return
        app.notify(f"Exported “{chat.title}” to {path}", markup=False, timeout=10)
