"""A long chat in the app on the real starter model at 2K: it compresses visibly and keeps
answering (the summaries are written by the model itself)."""

from __future__ import annotations

from ollm_tui.core.gguf_info import read_gguf_info
from ollm_tui.engine.factory import make_engine
from ollm_tui.engine.planning import load_all_profiles, place
from ollm_tui.ui.widgets.transcript import UserEntry
from tests.app.helpers import make_test_app, send, wait_ready, wait_until

TOPICS = [
    "the Moon",
    "Paris",
    "volcanoes",
    "penguins",
    "the Python language",
    "rainbows",
    "Mount Everest",
    "honey bees",
    "the Nile",
    "chess",
    "coffee",
    "the piano",
    "glaciers",
    "owls",
    "the Sahara",
    "lighthouses",
    "tomatoes",
    "comets",
    "Tokyo",
    "whales",
]
AFTER = 3
"""Turns sent after the first compression, to show the chat keeps going."""


async def test_a_long_chat_compresses_visibly_and_keeps_answering(
    settings, store, smollm_path
) -> None:
    settings = settings.with_(temperature=0.0, max_tokens=64, tier=2048)
    placement = place(settings, read_gguf_info(smollm_path), profiles=load_all_profiles(settings))
    assert placement.plan.chosen.label == "2K"
    engine, errors = make_engine(settings, lazy=True)
    assert not errors  # (a tuple of profile problems)
    app, notes = make_test_app(
        settings, store, engine, smollm_path, load_options=placement.options, placement=placement
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        sent, left = 0, AFTER
        for topic in TOPICS:
            await send(pilot, f"Tell me two facts about {topic}. My name is Alice, id 4711.")
            sent += 1
            await wait_until(
                pilot,
                lambda: not app.model_busy(),
                timeout=180,
                what=f"turn {sent} (and a compression)",
            )
            if store.all_checkpoints(app.chat.id):
                left -= 1
                if left == 0:
                    break
        chat_id = app.chat.id
        checkpoints = store.all_checkpoints(chat_id)
        assert checkpoints, f"{sent} turns at 2K did not compress"
        assert store.checkpoints(chat_id), "an active checkpoint"
        shown = [c.id for c in app.checkpoints_of(chat_id)[0]]  # aged/merged ones give way
        await wait_until(
            pilot, lambda: [d.checkpoint.id for d in app.transcript.dividers()] == shown
        )
        assert store.checkpoints(chat_id)[-1].id in shown
        assert notes.has("Compressed")
        assert (
            len([v for v in app.transcript.views() if isinstance(v, UserEntry)]) == sent
        )  # every original message still shown
        replies = [m for m in store.messages(chat_id) if m.role == "assistant"]
        assert len(replies) == sent
        assert all(r.status == "complete" and r.content.strip() for r in replies)
        await wait_until(
            pilot,
            lambda: (r := app.transcript.last_reply()) is not None and r.status == "complete",
            what="the last reply shown complete",
        )
        last = app.transcript.last_reply()
        assert last is not None and last.text == replies[-1].content
        print(f"\n{sent} turns, {len(checkpoints)} checkpoint(s):", [c.label for c in checkpoints])
        assert not notes.messages("error"), notes.messages("error")
    engine.close()
