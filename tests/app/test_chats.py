"""The chat list: new, rename, delete (with confirmation), switching."""

from __future__ import annotations

import asyncio

from textual.widgets import Input

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.screens.dialogs import ConfirmDialog, RenameDialog
from ollm_tui.ui.widgets.chat_list import ChatList
from ollm_tui.ui.widgets.transcript import HintEntry, ReplyEntry
from tests.app.helpers import make_test_app, rendered_text, send, wait_ready, wait_until
from tests.fakes import FakeEngine


def seed(store: Store) -> tuple[int, int]:
    """Two chats; "Beta" is the most recent."""
    alpha = store.create_chat("Alpha")
    store.add_message(alpha.id, "user", "alpha question")
    store.add_message(alpha.id, "assistant", "alpha answer")
    beta = store.create_chat("Beta")
    store.add_message(beta.id, "user", "beta question")
    store.add_message(beta.id, "assistant", "beta answer")
    return alpha.id, beta.id


def shown(app) -> list[str]:
    return [v.text for v in app.transcript.views()]


async def choose_chat(pilot, chat_id: int) -> None:
    """Pick a chat in the sidebar with the keyboard."""
    app = pilot.app
    app.chat_list.focus()
    index = [c.id for c in app.chat_list.chats].index(chat_id)
    app.chat_list.highlighted = index
    await pilot.press("enter")


async def test_switching_chats_shows_the_right_messages(settings: Settings, store: Store):
    alpha, beta = seed(store)
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.chat.id == beta
        assert shown(app) == ["beta question", "beta answer"]
        assert [c.title for c in app.chat_list.chats] == ["Beta", "Alpha"]
        await choose_chat(pilot, alpha)
        await wait_until(pilot, lambda: app.chat.id == alpha)
        assert shown(app) == ["alpha question", "alpha answer"]
        assert app.transcript.border_title == "Alpha"
        assert app.composer.has_focus
        assert "▸ Alpha" in rendered_text(app.chat_list)


async def test_switching_while_streaming_stops_and_keeps_the_partial_reply(
    settings: Settings, store: Store
):
    alpha, beta = seed(store)
    engine = FakeEngine(reply=" ".join(f"w{i}" for i in range(400)), delay_s=0.05)
    app, _ = make_test_app(settings, store, engine)
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "long one")
        await wait_until(pilot, lambda: app.turn is not None and app.turn.buffer.total_chars > 10)
        await choose_chat(pilot, alpha)
        await wait_until(pilot, lambda: app.chat.id == alpha and app.turn is None, timeout=5)
        assert shown(app) == ["alpha question", "alpha answer"]
        last = store.messages(beta)[-1]
        assert last.role == "assistant" and last.status == "stopped" and last.content
        await choose_chat(pilot, beta)
        await wait_until(pilot, lambda: app.chat.id == beta)
        reply = app.transcript.last_reply()
        assert isinstance(reply, ReplyEntry)
        assert reply.status == "stopped" and reply.bar == "bar-warning"


async def test_new_chat_rename_and_delete_with_confirmation(settings: Settings, store: Store):
    app, notes = make_test_app(settings, store, FakeEngine(reply="ok"))
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "first chat")
        await wait_until(pilot, lambda: app.transcript.last_reply() is not None)
        await wait_until(pilot, lambda: app.turn is None)
        first = app.chat.id

        # new
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.chat.id != first)
        assert len(store.list_chats()) == 2
        assert isinstance(app.transcript.entries[0], HintEntry)
        assert [c.title for c in app.chat_list.chats] == ["New chat", "first chat"]
        await pilot.press("ctrl+n")  # already empty: no third chat
        await pilot.pause()
        assert len(store.list_chats()) == 2

        # rename
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, RenameDialog))
        field = app.screen.query_one(Input)
        assert field.value == "New chat"
        field.value = "Renamed [b]chat[/b]"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, RenameDialog))
        assert store.get_chat(app.chat.id).title == "Renamed [b]chat[/b]"
        assert app.transcript.border_title is not None
        assert "Renamed [b]chat[/b]" in rendered_text(app.transcript).splitlines()[0]
        assert app.chat_list.chats[0].title == "Renamed [b]chat[/b]"

        # delete, answered No (the default)
        renamed = app.chat.id
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert app.screen.focused is not None and app.screen.focused.id == "no"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        assert store.get_chat(renamed) is not None

        # delete, confirmed: the next chat opens
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.click("#yes")
        await wait_until(pilot, lambda: store.get_chat(renamed) is None)
        await wait_until(pilot, lambda: app.chat.id == first)
        assert shown(app) == ["first chat", "ok"]
        assert [c.title for c in app.chat_list.chats] == ["first chat"]
        assert notes.has("Deleted “Renamed [b]chat[/b]”")

        # deleting the last chat leaves a fresh one
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        # (SQLite may give the fresh chat the deleted chat's id, so compare titles)
        await wait_until(pilot, lambda: notes.has("Deleted “first chat”"))
        await wait_until(pilot, lambda: [c.title for c in store.list_chats()] == ["New chat"])
        assert app.chat.id == store.list_chats()[0].id
        assert shown(app) == [] and isinstance(app.transcript.entries[0], HintEntry)


async def test_delete_key_in_the_chat_list_deletes_the_highlighted_chat(
    settings: Settings, store: Store
):
    alpha, beta = seed(store)
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await pilot.pause()
        app.chat_list.focus()
        app.chat_list.highlighted = 1  # Alpha, not the open chat
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: store.get_chat(alpha) is None)
        assert app.chat.id == beta
        assert [c.title for c in app.chat_list.chats] == ["Beta"]


async def test_dialog_keys_do_not_trigger_chat_actions(settings: Settings, store: Store):
    seed(store)
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, RenameDialog))
        await pilot.press("ctrl+d", "ctrl+n")  # edit keys in the input, not app actions
        await pilot.pause()
        assert isinstance(app.screen, RenameDialog)
        assert len(store.list_chats()) == 2
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, RenameDialog))
        assert store.get_chat(app.chat.id).title == "Beta"


async def test_ctrl_b_hides_and_shows_the_chat_list(settings: Settings, store: Store):
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.chat_list.display
        await pilot.press("ctrl+b")
        assert not app.chat_list.display
        assert app.composer.has_focus
        await pilot.press("ctrl+b")
        assert app.chat_list.display and app.chat_list.has_focus


async def test_quitting_while_a_chat_opens_ends_cleanly(settings: Settings, store: Store):
    """The app may shut down while a chosen chat is still being laid out: no crash on the way."""
    engine = FakeEngine(reply="ok")
    app, _notes = make_test_app(settings, store, engine)
    gate = asyncio.Event()
    entered = asyncio.Event()
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        other = store.create_chat("Other chat")
        store.add_message(other.id, "user", "hello there")
        show = app.transcript.show

        async def slow_show(*args: object, **kwargs: object) -> None:
            entered.set()
            await gate.wait()
            await show(*args, **kwargs)  # type: ignore[arg-type]

        app.transcript.show = slow_show  # type: ignore[method-assign]
        app.post_message(ChatList.ChatChosen(other.id))
        # (not through the pilot: it waits for the app's queue, which the gate holds)
        await asyncio.wait_for(entered.wait(), 10)
        # leaving the block shuts the app down; the chat goes on opening meanwhile
        asyncio.get_running_loop().call_later(0.3, gate.set)
    assert not app.is_running


def test_a_title_prompt_is_as_high_as_textual_measures_it():
    from textual.content import Content

    from ollm_tui.ui.widgets.chat_list import _LazyTitle, _Title, _title_prompt

    texts = [
        "short",
        "a title far longer than the narrow chat list is wide",
        "two\nlines",
        "",
        "escapes \x1b[2J\r\x85 and \u202e bidi",
    ]
    for text in texts:
        for rules in (
            {},
            {"text_wrap": "nowrap"},
            {"text_wrap": "nowrap", "text_overflow": "ellipsis"},
            {"text_wrap": "nowrap", "text_overflow": "clip", "line_pad": 1},
            {"text_overflow": "ellipsis", "line_pad": 1},
        ):
            for width in (4, 10, 26, 200):
                expected = Content(text).get_height(rules, width)  # type: ignore[arg-type]
                assert _Title(text).get_height(rules, width) == expected, (text, rules, width)  # type: ignore[arg-type]
                for is_open in (True, False):
                    eager = Content.get_height(_title_prompt(text, is_open), rules, width)  # type: ignore[arg-type]
                    lazy = _LazyTitle(text, is_open)
                    assert lazy.get_height(rules, width) == eager, (text, rules, width)  # type: ignore[arg-type]


def test_a_title_prompt_is_what_assembling_the_safe_title_gives():
    from textual.content import Content

    from ollm_tui.ui.safe_text import safe

    for title in ["plain", "with \x1b[31m escape \u202e bidi", "", "wide 🎉 emoji"]:
        for is_open in (True, False):
            shown = safe(title)
            if is_open:
                expected = Content.assemble(("▸ ", "bold"), shown.stylize("bold"))
            else:
                expected = Content.assemble("  ", shown)
            prompt = ChatList._prompt(1, title, is_open)
            assert (prompt.plain, list(prompt.spans)) == (expected.plain, list(expected.spans))
            assert prompt.cell_length == expected.cell_length


async def test_many_chats_listed_marked_and_prompts_kept(settings: Settings, store: Store):
    ids = [store.create_chat(f"Chat {i} \x1b[31mred").id for i in range(300)]
    app, _ = make_test_app(settings, store, FakeEngine())
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.chat_list.option_count == 300)
        chat_list = app.chat_list
        assert chat_list.border_subtitle == "300 chats"
        assert [c.id for c in chat_list.chats] == ids[::-1]
        assert "\x1b" not in rendered_text(chat_list)  # titles still go through the sanitiser
        assert "▸ Chat 299" in rendered_text(chat_list)
        before = [chat_list.get_option_at_index(i).prompt for i in range(300)]
        app.chat_screen.refresh_chat_list()  # nothing changed: the same prompts
        assert [chat_list.get_option_at_index(i).prompt for i in range(300)] == before
        await choose_chat(pilot, ids[0])
        await wait_until(pilot, lambda: chat_list.open_chat_id == ids[0])
        assert chat_list.highlighted_chat_id == ids[0]
        after = [chat_list.get_option_at_index(i).prompt for i in range(300)]
        index = [c.id for c in chat_list.chats].index(ids[0])
        changed = [i for i in range(300) if after[i] is not before[i]]
        assert changed == sorted({0, index})  # only the two marks moved
        assert after[index].plain.startswith("▸ ") and not after[0].plain.startswith("▸ ")
        store.rename_chat(ids[5], "Renamed")
        app.chat_screen.refresh_chat_list()
        assert any(chat_list.get_option_at_index(i).prompt.plain == "  Renamed" for i in range(300))
