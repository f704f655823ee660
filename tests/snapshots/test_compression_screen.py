"""A snapshot of a compressed chat: the checkpoint divider, collapsed, between the messages."""

from __future__ import annotations

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.app import OllmApp
from tests.app.helpers import FAKE_MODEL, make_test_app
from tests.fakes import FakeEngine
from tests.snapshots.test_main_screen import machine, settle


def compressed_app(settings: Settings, store: Store) -> OllmApp:
    chat = store.create_chat("Deploying the app")
    first = store.add_message(chat.id, "user", "Our app runs on port 8080 from /srv/app.")
    store.add_message(
        chat.id,
        "assistant",
        "Noted: port 8080, served from `/srv/app`.",
        meta={"model": FAKE_MODEL.stem},
    )
    second = store.add_message(chat.id, "user", "Alice owns the deploy script deploy.sh.")
    store.add_message(
        chat.id,
        "assistant",
        "Got it: Alice maintains `deploy.sh`.",
        meta={"model": FAKE_MODEL.stem},
    )
    checkpoint = store.add_checkpoint(
        chat.id,
        3,
        "The app listens on port 8080 from /srv/app; Alice owns deploy.sh.",
        24,
        first.id,
        second.id + 1,
        4,
    )
    kept = store.add_message(chat.id, "user", "How do I restart it?")
    store.add_message(
        chat.id,
        "assistant",
        "Run `sudo systemctl restart app`.",
        meta={"model": FAKE_MODEL.stem, "tokens_per_s": 41.5, "ttft_s": 0.12},
    )
    store.set_active_context(chat.id, [checkpoint.id], kept.id)
    return make_test_app(settings, store, FakeEngine(), FAKE_MODEL, memory_probe=machine())[0]


def test_a_checkpoint_divider(snap_compare, settings: Settings, store: Store):
    assert snap_compare(compressed_app(settings, store), terminal_size=(100, 30), run_before=settle)
