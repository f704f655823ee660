"""Switching between two long chats in the app: the turn after a switch evaluates only the
new tokens, because the chat's KV state was saved after its reply and restored."""

from __future__ import annotations

from typing import Any

from ollm_tui.engine.base import Done, LoadOptions
from ollm_tui.engine.factory import make_engine
from ollm_tui.store.db import Store
from ollm_tui.ui.widgets.chat_list import ChatList
from tests.app.helpers import make_test_app, send, wait_ready, wait_until

OPTIONS = LoadOptions(n_ctx=2048, n_threads=1, n_threads_batch=1)
FACTS = {
    "a": " ".join(f"Box {i} holds {i * 3} apples." for i in range(40)),
    "b": " ".join(f"Car {i} has {i + 2} doors." for i in range(40)),
}


def record_done(engine: Any) -> list[Done]:
    """Wrap the engine's ``stream`` so every turn's ``Done`` is kept."""
    seen: list[Done] = []
    stream = engine.stream

    def recording(*args: Any, **kwargs: Any):
        for event in stream(*args, **kwargs):
            if isinstance(event, Done):
                seen.append(event)
            yield event

    engine.stream = recording
    return seen


async def test_switching_back_restores_the_chat_and_evaluates_only_new_tokens(
    settings, smollm_path
) -> None:
    store = Store(settings.db_path)
    engine, _ = make_engine(settings, lazy=True)
    done = record_done(engine)
    app, notes = make_test_app(
        settings.with_(temperature=0.0, max_tokens=20),
        store,
        engine,
        smollm_path,
        load_options=OPTIONS,
    )
    kv_dir = settings.kv_dir

    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)

        async def turn(text: str) -> Done:
            count = len(done)
            await send(pilot, text)
            await wait_until(
                pilot, lambda: len(done) > count and app.turn is None, timeout=120, what="the reply"
            )
            await app.workers.wait_for_complete()  # the state is saved after the reply
            return done[-1]

        chats = {}
        for name in ("a", "b"):
            if name == "b":
                await app.action_new_chat()
            chats[name] = app.chat.id
            first = await turn(FACTS[name] + "\nHow many apples are in box 3?")
            assert first.prompt_tokens > 400
            assert (
                first.evaluated_prompt_tokens > first.prompt_tokens - 30
            )  # all but the system prompt
        assert len(list(kv_dir.glob("*.kvstate"))) == 2

        for name in ("a", "b", "a"):
            app.post_message(ChatList.ChatChosen(chats[name]))
            await wait_until(pilot, lambda name=name: app.chat.id == chats[name], what="the switch")
            after = await turn("Thanks. One more question: and box 5?")
            assert app.kv_cache.last.action == "restored"
            assert after.prompt_tokens > 400
            assert after.evaluated_prompt_tokens < 60, "only the last reply and the new message"
        assert not notes.messages("error")

        deleted = app.store.get_chat(chats["b"])
        assert deleted is not None
        await app._delete_chat(deleted)
        assert [p.name.split("-")[1] for p in kv_dir.glob("*.kvstate")] == [str(chats["a"])]
    engine.close()
    store.close()
