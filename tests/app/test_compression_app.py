"""Compression in the app: the auto run after a reply, dividers, status, palette, undo.

The engine is the fake one and the summaries come from a scripted summariser (these tests
are about the UI); the compressor, the store and the session are the real ones.
"""

from __future__ import annotations

import threading
from typing import Any

from textual.widgets import OptionList

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.app import OllmApp
from ollm_tui.ui.screens.pickers import SnapshotPicker
from ollm_tui.ui.widgets.transcript import MessageEntry, UserEntry
from tests.app.helpers import make_test_app, rendered_text, send, wait_ready, wait_until
from tests.fakes import FakeEngine

SUMMARY = "Alice asked about port 8080 and the file /srv/app/main.py; the assistant answered."
REPLY = " ".join(["answer"] * 24)


class ScriptedSummariser:
    """Returns ``SUMMARY``; with ``gate`` set up, waits for it first (a slow model)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.calls = 0

    def summarise(self, instruction: str, text: str, max_tokens: int, cancel: Any) -> str:
        self.calls += 1
        while self.gate is not None and not self.gate.wait(0.01):
            if cancel.cancelled:
                return ""
        return SUMMARY


def small(settings: Settings) -> Settings:
    """A 512-token window: a few fake turns fill it (the fake counts a token per word)."""
    return settings.with_(context_size=512)


def use(app: OllmApp, summariser: ScriptedSummariser) -> None:
    app.summariser = summariser  # type: ignore[assignment]
    assert app.session is not None
    app.session.summariser = summariser


async def chat_until(pilot: Any, app: OllmApp, store: Store, turns: int) -> int:
    """Send numbered messages (each waits for its reply); returns how many were sent."""
    for i in range(turns):
        await send(pilot, f"Message {i} from Alice about port 8080 and /srv/app/main.py")
        await wait_until(pilot, lambda: not app.model_busy(), timeout=30, what=f"turn {i}")
        if store.all_checkpoints(app.chat.id):
            return i + 1
    return turns


async def fill(pilot: Any, app: OllmApp, turns: int = 5) -> None:
    """A few turns: enough to compress on demand, not enough to trigger it."""
    before = len(app.store.all_checkpoints(app.chat.id))
    for i in range(turns):
        await send(pilot, f"Message {i} from Alice about port 8080 and /srv/app/main.py")
        await wait_until(pilot, lambda: not app.model_busy(), timeout=30, what=f"turn {i}")
    assert len(app.store.all_checkpoints(app.chat.id)) == before


async def test_a_long_chat_compresses_after_a_reply_and_shows_a_divider(
    settings: Settings, store: Store
):
    app, notes = make_test_app(small(settings), store, FakeEngine(reply=REPLY))
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_ready(pilot)
        use(app, ScriptedSummariser())
        sent = await chat_until(pilot, app, store, 20)
        checkpoints = store.all_checkpoints(app.chat.id)
        assert len(checkpoints) == 1, "twenty turns in 512 tokens must compress"
        cp = checkpoints[0]
        await wait_until(pilot, lambda: notes.has("Compressed"), what="the toast")
        level = f"L{cp.level}" if cp.level else "rolling summary"
        assert notes.has(f"Compressed {cp.message_count} messages -> {cp.tokens} tokens ({level}")
        dividers = app.transcript.dividers()
        assert [d.checkpoint.id for d in dividers] == [cp.id] and dividers[0].collapsed
        # every original message is still shown; the divider follows the last one it covers
        assert len([v for v in app.transcript.views() if isinstance(v, UserEntry)]) == sent
        children = app.transcript.entries
        before = children[children.index(dividers[0]) - 1]
        assert isinstance(before, MessageEntry) and before.message is not None
        assert before.message.id == cp.last_message_id
        assert store.checkpoints(app.chat.id) == [cp]
        # and the chat keeps going with the summary in the prompt
        await send(pilot, "And one more question")
        await wait_until(pilot, lambda: not app.model_busy() and app.turn is None, timeout=30)
        prompts = app.engine.prompts  # type: ignore[attr-defined]
        (prompt,) = [p for p in prompts if p[-1]["content"] == "And one more question"]
        assert SUMMARY in prompt[0]["content"]
        assert store.messages(app.chat.id)[-1].content == REPLY


async def test_a_divider_expands_to_its_summary_by_keyboard(settings: Settings, store: Store):
    app, notes = make_test_app(small(settings), store, FakeEngine(reply=REPLY))
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_ready(pilot)
        use(app, ScriptedSummariser())
        await chat_until(pilot, app, store, 20)
        divider = app.transcript.dividers()[0]
        await pilot.pause()
        shown = app.transcript.text_of(divider)
        assert f"▶ Checkpoint · {divider.checkpoint.label}" in shown
        assert SUMMARY[:20] not in shown
        transcript = app.transcript
        transcript.focus()
        transcript.select(transcript.entries.index(divider))
        await pilot.press("enter")
        await wait_until(pilot, lambda: not divider.collapsed)
        transcript.scroll_to_entry(transcript.entries.index(divider))
        await pilot.pause()
        assert SUMMARY[:40] in rendered_text(transcript)  # on screen
        await pilot.press("enter")
        await wait_until(pilot, lambda: divider.collapsed)
        # up/down move between messages and dividers
        children = app.transcript.entries
        before = children[children.index(divider) - 1]
        await pilot.press("up")
        assert isinstance(before, MessageEntry) and transcript.selected is before
        await pilot.press("down")
        assert transcript.selected is divider
        await pilot.press("c")  # copies the summary, like a message
        await wait_until(pilot, lambda: notes.has("to the clipboard"))


async def test_reopening_the_chat_shows_its_dividers(settings: Settings, store: Store):
    app, _ = make_test_app(small(settings), store, FakeEngine(reply=REPLY))
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_ready(pilot)
        use(app, ScriptedSummariser())
        await chat_until(pilot, app, store, 20)
        chat_id = app.chat.id
    app2, _ = make_test_app(small(settings), store, FakeEngine(reply=REPLY))
    async with app2.run_test(size=(110, 40)) as pilot:
        await wait_ready(pilot)
        assert app2.chat.id == chat_id
        ids = [d.checkpoint.id for d in app2.transcript.dividers()]
        assert ids == [c.id for c in store.all_checkpoints(chat_id)] and ids


async def test_the_status_line_shows_a_compression_and_messages_queue_meanwhile(
    settings: Settings, store: Store
):
    gate = threading.Event()
    app, notes = make_test_app(small(settings), store, FakeEngine(reply=REPLY))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_ready(pilot)
        use(app, ScriptedSummariser(gate))
        await fill(pilot, app)
        await app.run_action("compress_now")
        await wait_until(pilot, lambda: app.compression is not None, what="the compression")
        await wait_until(pilot, lambda: "compressing…" in app.status_line.text)
        assert app.compression.reason == "manual"
        messages = store.messages(app.chat.id)
        assert "compressing… " in app.status_line.text and " messages" in app.status_line.text
        await send(pilot, "typed while compressing")
        assert app.queued == ["typed while compressing"] and app.composer.text == ""
        assert len(store.messages(app.chat.id)) == len(messages)  # waits for the model
        gate.set()
        await wait_until(pilot, lambda: notes.has("Compressed"), timeout=30)
        await wait_until(
            pilot,
            lambda: (
                not app.model_busy()
                and any(m.content == "typed while compressing" for m in store.messages(app.chat.id))
            ),
            timeout=30,
        )
        assert "compressing" not in app.status_line.text
        assert len(app.transcript.dividers()) == 1


async def test_escape_hurries_a_compression_to_an_extractive_summary(
    settings: Settings, store: Store
):
    gate = threading.Event()
    app, notes = make_test_app(small(settings), store, FakeEngine(reply=REPLY))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_ready(pilot)
        use(app, ScriptedSummariser(gate))
        await fill(pilot, app)
        await app.run_action("compress_now")
        await wait_until(pilot, lambda: "compressing…" in app.status_line.text)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.model_busy(), timeout=30)
        assert app.compression is None and "compressing" not in app.status_line.text
        assert app.is_running and not notes.has("Compression failed", "error")
        # the model's summary was given up (the gate never opened): the checkpoint is the
        # quick extractive one, and says so
        (checkpoint,) = store.all_checkpoints(app.chat.id)
        assert checkpoint.fallback and "extractive" in app.transcript.dividers()[0].checkpoint.label
        assert notes.has("extractive)")


async def palette(pilot: Any, app: OllmApp, words: str) -> None:
    """Run a command from the palette by typing ``words`` and pressing Enter."""
    await pilot.press("ctrl+p")
    await wait_until(
        pilot,
        lambda: (
            app.screen.id == "--command-palette" or "CommandPalette" in type(app.screen).__name__
        ),
    )
    await pilot.press(*words)
    await pilot.pause(0.3)
    await pilot.press("enter")


async def test_compress_now_and_undo_from_the_palette(settings: Settings, store: Store):
    app, notes = make_test_app(small(settings), store, FakeEngine(reply=REPLY))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_ready(pilot)
        use(app, ScriptedSummariser())
        await fill(pilot, app)
        chat_id = app.chat.id
        before = store.active_context(chat_id)
        await palette(pilot, app, "compress now")
        await wait_until(pilot, lambda: notes.has("Compressed"), timeout=30)
        await wait_until(pilot, lambda: len(app.transcript.dividers()) == 1)
        assert len(store.checkpoints(chat_id)) == 1
        assert app.transcript.dividers()[0].active
        await wait_until(pilot, lambda: not app.model_busy())
        await palette(pilot, app, "undo last compression")
        await wait_until(pilot, lambda: notes.has("Undid the last compression"), timeout=30)
        assert store.checkpoints(chat_id) == []
        assert store.active_context(chat_id) == before
        divider = app.transcript.dividers()[0]  # still shown, dimmed
        await wait_until(pilot, lambda: divider.active is False)
        assert "not in use" in app.transcript.text_of(divider)
        await wait_until(pilot, lambda: not app.model_busy())
        await palette(pilot, app, "undo last compression")
        await wait_until(pilot, lambda: notes.has("Nothing to undo", "warning"), timeout=30)


async def test_a_snapshot_is_restored_from_the_picker(settings: Settings, store: Store):
    app, notes = make_test_app(small(settings), store, FakeEngine(reply=REPLY))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_ready(pilot)
        use(app, ScriptedSummariser())
        await fill(pilot, app)
        chat_id = app.chat.id
        await app.run_action("compress_now")
        await wait_until(pilot, lambda: notes.has("Compressed"), timeout=30)
        await wait_until(pilot, lambda: not app.model_busy())
        snapshots = store.snapshots(chat_id)
        assert snapshots, "a compression takes a snapshot first"
        await palette(pilot, app, "snapshots")
        await wait_until(pilot, lambda: isinstance(app.screen, SnapshotPicker))
        options = app.screen.query_one("#snapshot-options", OptionList)
        assert str(options.get_option_at_index(0).prompt) == snapshots[0].label
        await pilot.press("enter")
        await wait_until(pilot, lambda: notes.has("Restored the snapshot"), timeout=30)
        assert store.checkpoints(chat_id) == []
        await wait_until(pilot, lambda: app.transcript.dividers()[0].active is False)


async def test_a_message_that_would_overflow_compresses_first_then_is_answered(
    settings: Settings, store: Store
):
    app, notes = make_test_app(small(settings), store, FakeEngine(reply=REPLY))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_ready(pilot)
        use(app, ScriptedSummariser())
        await fill(pilot, app)
        statuses: list[str] = []
        app.status_line.watch(
            app.status_line,
            "activity",
            lambda value: statuses.append(value),  # noqa: PLW0108  Textual counts a callback's parameters via __func__, which a bound builtin like list.append lacks
            init=False,
        )
        await send(pilot, "Please read this long note. " + " ".join(["detail"] * 150))
        await wait_until(pilot, lambda: not app.model_busy() and app.turn is None, timeout=30)
        assert store.all_checkpoints(app.chat.id), "the emergency ladder compressed first"
        assert any(s.startswith("compressing…") for s in statuses)
        assert statuses[-1] == "" and "generating…" in statuses
        assert notes.has("Compressed") and not notes.messages("error")
        await wait_until(pilot, lambda: len(app.transcript.dividers()) >= 1)
        assert store.messages(app.chat.id)[-1].content == REPLY
        prompts = app.engine.prompts  # type: ignore[attr-defined]
        (prompt,) = [p for p in prompts if p[-1]["content"].startswith("Please read this")]
        assert SUMMARY in prompt[0]["content"], "the summary was in the long message's prompt"


async def test_a_later_compression_replaces_the_divider_it_rewrote(
    settings: Settings, store: Store
):
    # 512 tokens is tier 1: one rolling summary, rewritten (a new row) by each compression
    app, _ = make_test_app(small(settings), store, FakeEngine(reply=REPLY))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_ready(pilot)
        use(app, ScriptedSummariser())
        await fill(pilot, app)
        await app.run_action("compress_now")
        await wait_until(pilot, lambda: len(store.all_checkpoints(app.chat.id)) == 1, timeout=30)
        await wait_until(pilot, lambda: not app.model_busy())
        for i in range(12):  # until the next (auto) compression
            await send(pilot, f"More {i} from Alice about port 8080 and /srv/app/main.py")
            await wait_until(pilot, lambda: not app.model_busy(), timeout=30)
            if len(store.all_checkpoints(app.chat.id)) == 2:
                break
        first, second = store.all_checkpoints(app.chat.id)
        assert second.first_message_id <= first.first_message_id
        assert store.checkpoints(app.chat.id) == [second]
        await wait_until(
            pilot, lambda: [d.checkpoint.id for d in app.transcript.dividers()] == [second.id]
        )
