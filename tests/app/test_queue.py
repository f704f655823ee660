"""Messages typed while the model is busy: queued, shown, sent in order, never lost."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from ollm_tui.engine.base import (
    CancelToken,
    ChatMessage,
    Delta,
    GenerationError,
    GenParams,
    StreamEvent,
)
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.queueing import QueuePanel
from tests.app.helpers import make_test_app, rendered_text, send, wait_ready, wait_until
from tests.fakes import FakeEngine

LONG_REPLY = " ".join(f"word{i}" for i in range(400))


def user_texts(store: Store, chat_id: int) -> list[str]:
    return [m.content for m in store.messages(chat_id) if m.role == "user"]


class GatedEngine(FakeEngine):
    """Streams the echo reply only once ``gate`` is set (so a test controls when it ends)."""

    def __init__(self, fail_first: bool = False) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.fail_first = fail_first

    def stream(
        self, messages: Sequence[ChatMessage], params: GenParams, cancel: CancelToken
    ) -> Iterator[StreamEvent]:
        while not self.gate.wait(0.01):
            if cancel.cancelled:
                break
        if self.fail_first and len(self.prompts) == 0:
            self.prompts.append(list(messages))
            yield Delta("half")
            raise GenerationError("the model fell over")
        yield from super().stream(messages, params, cancel)


async def test_enter_while_a_reply_streams_queues_and_sends_in_order(
    settings: Settings, store: Store
):
    engine = GatedEngine()
    app, notes = make_test_app(settings, store, engine)
    async with app.run_test(size=(110, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "first")
        await wait_until(pilot, lambda: app.turn is not None and app.turn.started)
        await send(pilot, "second message")
        await send(pilot, "third")
        assert app.composer.text == ""  # accepted, not refused
        assert app.queued == ["second message", "third"]
        panel = app.query_one("#queue", QueuePanel)
        await pilot.pause()
        shown = rendered_text(panel)
        assert "Queued (2)" in shown and "“second message”" in shown and "“third”" in shown
        assert app.composer.border_subtitle.startswith("queued (2)")
        assert user_texts(store, app.chat.id) == ["first"]  # nothing sent early
        engine.gate.set()
        await wait_until(
            pilot,
            lambda: (
                len(user_texts(store, app.chat.id)) == 3
                and app.turn is None
                and not app.model_busy()
            ),
            what="every queued message sent",
        )
        assert user_texts(store, app.chat.id) == ["first", "second message", "third"]
        replies = [m.content for m in store.messages(app.chat.id) if m.role == "assistant"]
        assert replies == ["You said: first", "You said: second message", "You said: third"]
        assert not panel.display and app.composer.border_subtitle == "Enter send · ^J new line"
        assert not notes.messages("warning") and not notes.messages("error")


async def test_up_takes_the_newest_queued_message_back(settings: Settings, store: Store):
    engine = GatedEngine()
    app, _ = make_test_app(settings, store, engine)
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "first")
        await wait_until(pilot, lambda: app.turn is not None and app.turn.started)
        await send(pilot, "second")
        await send(pilot, "third, changed my mind")
        await pilot.press("up")  # empty composer: the newest queued message comes back
        assert app.composer.text == "third, changed my mind"
        assert app.queued == ["second"]
        engine.gate.set()
        await wait_until(
            pilot, lambda: len(user_texts(store, app.chat.id)) == 2 and not app.model_busy()
        )
        assert user_texts(store, app.chat.id) == ["first", "second"]
        assert app.composer.text == "third, changed my mind"  # still there, unsent


async def test_a_failed_reply_puts_the_queue_back_in_the_composer(settings: Settings, store: Store):
    engine = GatedEngine(fail_first=True)
    app, notes = make_test_app(settings, store, engine)
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "first")
        await wait_until(pilot, lambda: app.turn is not None and app.turn.started)
        await send(pilot, "second")
        await send(pilot, "third")
        engine.gate.set()
        await wait_until(pilot, lambda: notes.has("2 queued messages are back", "warning"))
        await wait_until(pilot, lambda: not app.model_busy())
        assert app.queued == [] and app.composer.text == "second\n\nthird"
        assert user_texts(store, app.chat.id) == ["first"]  # not sent after a failure
        assert notes.has("The reply failed: the model fell over", "error")


async def test_quitting_with_a_queue_puts_it_back_and_needs_a_second_quit(
    settings: Settings, store: Store
):
    engine = FakeEngine(reply=LONG_REPLY, delay_s=0.02)
    app, notes = make_test_app(settings, store, engine)
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        await send(pilot, "first")
        await wait_until(pilot, lambda: app.turn is not None and app.turn.started)
        await send(pilot, "do not lose me")
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: notes.has("Quit again", "warning"))
        assert app.is_running and app.return_code is None
        assert app.composer.text == "do not lose me" and app.queued == []
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: app.return_code is not None, what="the app to quit")
    stored = store.messages(app.chat.id)
    assert [m.content for m in stored if m.role == "user"] == ["first"]
    assert stored[-1].status == "stopped"


async def test_switching_chat_puts_the_queue_back(settings: Settings, store: Store):
    engine = FakeEngine(reply=LONG_REPLY, delay_s=0.02)
    app, notes = make_test_app(settings, store, engine)
    async with app.run_test() as pilot:
        await wait_ready(pilot)
        older = store.create_chat("Other chat")
        await send(pilot, "first")
        await wait_until(pilot, lambda: app.turn is not None and app.turn.started)
        first_chat = app.chat.id
        await send(pilot, "queued here")
        await app.action_open_chat_id(older.id)
        await wait_until(pilot, lambda: app.chat.id == older.id)
        # the chat is open once the list marks it (opening goes on after the session is set)
        await wait_until(pilot, lambda: app.chat_list.open_chat_id == older.id)
        assert notes.has("Switched chat: 1 queued message is back", "warning")
        assert app.composer.text == "queued here" and app.queued == []
        await wait_until(pilot, lambda: not app.model_busy())
        assert user_texts(store, first_chat) == ["first"]
        assert user_texts(store, older.id) == []
