"""Panes, docs links and search, key remapping, themes, settings errors and export (Pilot)."""

from __future__ import annotations

import json
from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import Input, Markdown

from ollm_tui.settings import DEFAULT_THEME, Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.bindings import REGISTRY
from ollm_tui.ui.screens.docs_pane import DocsPane
from ollm_tui.ui.screens.keys_pane import KeyCapture, KeysPane
from ollm_tui.ui.screens.settings_form import SettingsScreen
from tests.app.helpers import make_test_app, screen_lines, wait_until
from tests.fakes import FakeEngine


def docs_of(app) -> DocsPane:
    screen = app.get_screen("docs")
    assert isinstance(screen, DocsPane)
    return screen


async def test_panes_switch_by_key_and_keep_their_state(settings: Settings, store: Store) -> None:
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.pane == "chat"
        await pilot.press("f1")
        await wait_until(pilot, lambda: app.pane == "docs")
        docs = docs_of(app)
        await docs.go("keys.md#in-the-composer")
        scroll = docs.query_one("#docs-scroll")
        await wait_until(pilot, lambda: scroll.scroll_y > 0, what="the anchor to scroll")
        scrolled = scroll.scroll_y
        assert docs.page == "keys.md"
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.pane == "keys")
        await pilot.press("down", "down")
        cursor = app.get_screen("keys").query_one("#keys-table").cursor_row
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.pane == "chat")
        assert app.focused is not None
        await pilot.press("f1")
        await wait_until(pilot, lambda: app.pane == "docs")
        assert docs_of(app) is docs and docs.page == "keys.md"
        assert docs.query_one("#docs-scroll").scroll_y == scrolled
        await pilot.press("f1")  # again: back to the chat
        await wait_until(pilot, lambda: app.pane == "chat")
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.pane == "keys")
        assert app.get_screen("keys").query_one("#keys-table").cursor_row == cursor == 2
        # chat keys do nothing outside the chat
        chats = len(store.list_chats())
        await pilot.press("ctrl+n")
        assert len(store.list_chats()) == chats


async def test_docs_links_anchors_back_forward_and_external(settings, store, monkeypatch) -> None:
    app, notes = make_test_app(settings, store, FakeEngine())
    opened: list[str] = []
    monkeypatch.setattr(app, "open_url", lambda url, **_: opened.append(url))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await wait_until(pilot, lambda: app.pane == "docs")
        docs = docs_of(app)
        markdown = docs.query_one(Markdown)
        assert docs.page == "index.md"
        # a link as the Markdown widget reports a click on it
        markdown.post_message(Markdown.LinkClicked(markdown, "quickstart.md"))
        await wait_until(pilot, lambda: docs.page == "quickstart.md")
        assert "Quick start" in "\n".join(screen_lines(app))
        markdown.post_message(
            Markdown.LinkClicked(markdown, "troubleshooting.md#slow-replies-and-threads")
        )
        await wait_until(pilot, lambda: docs.page == "troubleshooting.md")
        await wait_until(
            pilot, lambda: docs.query_one("#docs-scroll").scroll_y > 0, what="the anchor"
        )
        markdown.post_message(Markdown.LinkClicked(markdown, "https://example.com/x"))
        await wait_until(pilot, lambda: opened == ["https://example.com/x"])
        assert docs.page == "troubleshooting.md"
        markdown.post_message(Markdown.LinkClicked(markdown, "../README.md"))
        await wait_until(pilot, lambda: notes.has("No such page in the guide", "warning"))
        await pilot.press("backspace")
        await wait_until(pilot, lambda: docs.page == "quickstart.md")
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: docs.page == "index.md")
        await pilot.press("alt+right")
        await wait_until(pilot, lambda: docs.page == "quickstart.md")


async def test_docs_search_from_the_palette_opens_the_section(settings, store) -> None:
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await wait_until(pilot, lambda: app.pane == "docs")
        await pilot.press("slash")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"AMX crash")
        await wait_until(
            pilot, lambda: "docs › " in "\n".join(screen_lines(app)), what="search hits"
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: docs_of(app).page == "troubleshooting.md")


async def test_palette_reaches_commands_by_namespaced_name(settings, store) -> None:
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"pane: keys")
        await wait_until(pilot, lambda: "pane: Keys" in "\n".join(screen_lines(app)))
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.pane == "keys")


async def test_remap_refuses_a_conflict_persists_and_survives_a_restart(settings, store) -> None:
    app, notes = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.pane == "keys")
        table = app.screen.query_one("#keys-table")
        table.move_cursor(row=[e.id for e in REGISTRY].index("new_chat"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, KeyCapture))
        await pilot.press("ctrl+r")  # taken by regenerate
        await pilot.pause()
        assert isinstance(app.screen, KeyCapture)
        assert "already used by" in "\n".join(screen_lines(app)) and "regenerate" in "\n".join(
            screen_lines(app)
        )
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, KeysPane))
        assert app.keymap == {"new_chat": "ctrl+t"}
        assert "Ctrl+T *" in "\n".join(screen_lines(app))
        assert 'new_chat = "ctrl+t"' in settings.config_file.read_text(encoding="utf-8")
        # the app refuses a conflicting remap made any other way too
        assert app.remap("quit", "ctrl+t") is False
        assert notes.has("already used by New (new_chat)", "error")

    dirs = {
        "OLLM_DATA_DIR": settings.data_dir,
        "OLLM_CONFIG_DIR": settings.config_dir,
        "OLLM_LOG_DIR": settings.log_dir,
    }
    restarted = Settings.from_env({k: str(v) for k, v in dirs.items()})
    app, _ = make_test_app(restarted, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.composer.focus()
        store.add_message(app.chat.id, "user", "so the chat is not empty")
        chats = len(store.list_chats())
        await pilot.press("ctrl+t")
        await wait_until(
            pilot, lambda: len(store.list_chats()) == chats + 1, what="ctrl+t to make a chat"
        )
        await pilot.press("ctrl+n")  # no longer bound
        await pilot.pause()
        assert len(store.list_chats()) == chats + 1
        app.remap("new_chat", None)
        assert "new_chat" not in settings.config_file.read_text(encoding="utf-8")


async def test_a_broken_theme_file_gives_one_error_and_the_app_falls_back(settings, store) -> None:
    themes = settings.user_themes_dir
    themes.mkdir(parents=True)
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "not a colour"\n')
    (themes / "mine.toml").write_text('name = "mine"\nprimary = "#ff0000"\ndark = false\n')
    settings = settings.with_(theme="broken")
    app, notes = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        errors = [m for m in notes.messages("error") if "broken.toml" in m]
        assert len(errors) == 1 and "not a colour" in errors[0]
        assert notes.has("Theme 'broken' is not available")
        assert app.theme == DEFAULT_THEME
        assert "mine" in app.available_themes
        assert not settings.config_file.exists()  # falling back is not a choice to remember
        await app.run_action("set_theme('mine')")
        await pilot.pause()
        assert app.theme == "mine"
        assert app.get_css_variables()["memory-critical"]  # app colours exist in user themes
    assert 'theme = "mine"' in settings.config_file.read_text(encoding="utf-8")


async def test_settings_errors_are_shown_and_the_app_starts(tmp_path: Path, store) -> None:
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "config.toml").write_text('threads = "many"\n\n[keymap]\nno_such_binding = "f9"\n')
    env = {
        "OLLM_DATA_DIR": str(tmp_path / "d"),
        "OLLM_CONFIG_DIR": str(config),
        "OLLM_LOG_DIR": str(tmp_path / "l"),
    }
    settings = Settings.from_env(env)
    app, notes = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert notes.has(f"{config / 'config.toml'}, line 1, key 'threads'", "warning")
        assert notes.has("line 4, key 'keymap.no_such_binding': no binding has this id", "warning")
        assert app.keymap == {}


async def test_export_from_the_palette_action(settings, store) -> None:
    app, notes = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        store.add_message(app.chat.id, "user", "hello [not markup]")
        await app.run_action("export_chat('json')")
        await app.run_action("export_chat('md')")
        files = sorted(settings.export_dir.iterdir())
        assert [f.suffix for f in files] == [".json", ".md"]
        data = json.loads(files[0].read_text(encoding="utf-8"))
        assert data["messages"][0]["content"] == "hello [not markup]"
        assert notes.has(f"to {files[1]}")


async def test_a_toast_points_to_its_page_and_f1_opens_it(settings, store) -> None:
    app, notes = make_test_app(
        settings, store, FakeEngine(fail_load="unknown model architecture [x]")
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.load_state == "failed")
        assert notes.has("F1: Troubleshooting in the guide", "error")
        await pilot.press("f1")
        await wait_until(
            pilot, lambda: app.pane == "docs" and docs_of(app).page == "troubleshooting.md"
        )
        await wait_until(
            pilot, lambda: docs_of(app).query_one("#docs-scroll").scroll_y > 0, what="the section"
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.pane == "chat")
        await pilot.press("f1")  # the hint is used once; the pane keeps its page
        await wait_until(pilot, lambda: app.pane == "docs")
        assert docs_of(app).page == "troubleshooting.md"


async def test_settings_screen_refuses_bad_values_and_saves_good_ones(settings, store) -> None:
    app, notes = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        form = app.screen
        form.query_one("#setting-threads", Input).value = "0"
        form.query_one("#setting-temperature", Input).value = "0.7"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)  # refused: nothing saved
        assert "Threads: must be between 1 and 256, got 0" in "\n".join(screen_lines(app))
        assert app.focused is form.query_one("#setting-threads", Input)
        assert not settings.config_file.exists()
        form.query_one("#setting-threads", Input).value = "3"
        form.query_one("#setting-system_prompt", Input).value = "Answer in French."
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen))
        text = settings.config_file.read_text(encoding="utf-8")
        assert "threads = 3" in text and "temperature = 0.7" in text
        assert 'system_prompt = "Answer in French."' in text
        assert (
            app.settings.temperature == 0.7
            and app.session.settings.system_prompt == "Answer in French."
        )
        assert app.settings.n_threads == settings.n_threads  # used from the next start
        assert notes.has("threads apply at the next start")
    reread = Settings.from_env({"OLLM_CONFIG_DIR": str(settings.config_dir)})
    assert (reread.n_threads, reread.temperature, reread.config_problems) == (3, 0.7, ())


async def test_palette_opens_a_chat_by_title_shown_literally(settings, store) -> None:
    other = store.create_chat("[bold]Shell[/] one-liners")
    store.add_message(other.id, "user", "count lines")
    current = store.create_chat("Lists")
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.chat.id == current.id
        await pilot.press("f1")
        await wait_until(pilot, lambda: app.pane == "docs")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"open [bold")
        await wait_until(
            pilot, lambda: "chat: Open “[bold]Shell[/] one-liners”" in "\n".join(screen_lines(app))
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.pane == "chat" and app.chat.id == other.id)


async def test_reset_all_keys_after_asking(settings, store) -> None:
    settings.config_file.parent.mkdir(parents=True)
    settings.config_file.write_text('# mine\n[keymap]\nnew_chat = "ctrl+t"\nquit = "ctrl+x"\n')
    dirs = {"OLLM_DATA_DIR": settings.data_dir, "OLLM_CONFIG_DIR": settings.config_dir}
    app, _ = make_test_app(
        Settings.from_env({k: str(v) for k, v in dirs.items()}), store, FakeEngine()
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.keymap == {"new_chat": "ctrl+t", "quit": "ctrl+x"}
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.pane == "keys")
        assert "Ctrl+T *" in "\n".join(screen_lines(app))
        await pilot.press("R")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.keymap == {})
        await pilot.pause()
        assert "Ctrl+T *" not in "\n".join(screen_lines(app))
        assert "Ctrl+N" in "\n".join(screen_lines(app))
    text = settings.config_file.read_text(encoding="utf-8")
    assert "# mine" in text and "ctrl+t" not in text and "ctrl+x" not in text


async def test_a_chat_command_from_another_pane_goes_back_to_the_chat(settings, store) -> None:
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        store.add_message(app.chat.id, "user", "not empty")
        chats = len(store.list_chats())
        await pilot.press("f1")
        await wait_until(pilot, lambda: app.pane == "docs")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"chat: new chat", "enter")
        await wait_until(pilot, lambda: app.pane == "chat" and len(store.list_chats()) == chats + 1)


async def test_starting_on_a_theme_looks_like_switching_to_it(
    settings: Settings, store: Store
) -> None:
    def looks(app) -> list[object]:
        widgets = [app.screen, *app.screen.query("*")]
        styles = [
            (type(w).__name__, w.id, str(w.styles.background), str(w.styles.color)) for w in widgets
        ]
        return [app.theme, sorted(app.classes), app.get_css_variables(), styles]

    for theme in ("nord", "ollm-light", DEFAULT_THEME):
        app, _ = make_test_app(settings.with_(theme=theme), store, FakeEngine())
        async with app.run_test() as pilot:
            await pilot.pause()
            started = looks(app)
        app, _ = make_test_app(settings.with_(theme="textual-dark"), store, FakeEngine())
        async with app.run_test() as pilot:
            await pilot.pause()
            app.theme = theme
            await pilot.pause()
            switched = looks(app)
        assert started == switched, theme
