"""The app chatting with a server: llama-cpp-python's own (real), and one that fails on purpose."""

from __future__ import annotations

from textual.widgets import Button

from ollm_tui.engine.factory import make_engine
from ollm_tui.engine.remote.engine import ServerTimeout
from ollm_tui.settings.servers import ServerConfig, remote_path
from ollm_tui.ui.screens.dialogs import ConfirmDialog
from tests.app.helpers import make_test_app, send, wait_ready, wait_until
from tests.fake_server import MODEL, PIECES, FakeServer


def server_app(settings, store, server: ServerConfig, model: str):
    settings = settings.with_(servers=(server,), temperature=0.0, max_tokens=40)
    engine, errors = make_engine(settings, lazy=True)
    assert not errors  # (a tuple of profile problems)
    app, notes = make_test_app(settings, store, engine, remote_path(server.name, model))
    return app, notes, engine


async def test_the_app_chats_with_a_real_server(settings, store, llama_server, smollm_path) -> None:
    server = ServerConfig("local", llama_server, context=2048)
    app, notes, engine = server_app(settings, store, server, str(smollm_path))
    async with app.run_test(size=(110, 30)) as pilot:
        await wait_ready(pilot)
        assert app.status_line.model_name == f"{smollm_path.stem}@local"
        assert app.status_line.tier == "server"
        await send(pilot, "What is the capital of France?")
        await wait_until(
            pilot,
            lambda: (
                app.transcript.last_reply() is not None
                and app.transcript.last_reply().status == "complete"
            ),
            timeout=60,
            what="the reply to finish",
        )
        stored = store.messages(app.chat.id)
        assert [(m.role, m.status) for m in stored] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]
        assert stored[1].content and stored[1].meta["model"] == f"{smollm_path.stem}@local"
        # the meter counts through the server's tokenizer, checked exact (no "~"): the count
        # after the reply (the app checks for compression meanwhile, so it can come later)
        await wait_until(
            pilot,
            lambda: app.context.counts > 1 and app.status_line.meter.exact is not None,
            timeout=30,
            what="an exact count",
        )
        assert app.status_line.meter.exact.exact and not app.status_line.meter.text.startswith("~")
        await wait_until(pilot, lambda: not app.model_busy(), what="the compression check")
        await pilot.press("f4")  # no tiers for a server model: a note says why
        await pilot.pause(0.2)
        assert notes.has("runs on a server") and notes.has("2,048 tokens")
        assert not notes.messages("error")
    engine.close()


async def test_escape_stops_a_server_reply_at_once(
    settings, store, llama_server, smollm_path
) -> None:
    import time

    server = ServerConfig("local", llama_server, context=2048)
    app, _, engine = server_app(settings.with_(max_tokens=600), store, server, str(smollm_path))
    async with app.run_test(size=(110, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Write a very long story about a dragon and a knight.")
        await wait_until(
            pilot,
            lambda: (
                app.transcript.last_reply() is not None
                and len(app.transcript.last_reply().text) > 40
            ),
            timeout=60,
            what="some text to stream",
        )
        pressed = time.perf_counter()
        await pilot.press("escape")
        await wait_until(
            pilot,
            lambda: app.transcript.last_reply().status == "stopped",
            timeout=5,
            what="the reply to stop",
        )
        assert time.perf_counter() - pressed < 1.5  # generous: 0.1 s in the engine + the UI
        stored = store.messages(app.chat.id)[-1]
        assert stored.status == "stopped" and len(stored.content) > 40
    engine.close()


async def test_a_failing_server_keeps_the_reply_and_offers_the_local_model(settings, store) -> None:
    with FakeServer() as fake:
        server = ServerConfig("box", fake.url, context=2048)
        app, notes, engine = server_app(
            settings.with_(server_read_timeout_s=0.5), store, server, MODEL
        )
        async with app.run_test(size=(110, 30)) as pilot:
            await wait_ready(pilot)
            fake.mode = "stall"
            await send(pilot, "Say hello")
            await wait_until(
                pilot,
                lambda: (
                    app.transcript.last_reply() is not None
                    and app.transcript.last_reply().status == "error"
                ),
                timeout=20,
                what="the reply to fail",
            )
            assert isinstance(engine.last_failure, ServerTimeout)
            reply = store.messages(app.chat.id)[-1]
            assert reply.status == "error" and reply.content == "".join(PIECES[:2])
            assert notes.has("timed out", "error") and notes.has("ctrl+r asks the server again")
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, ConfirmDialog) and bool(app.screen.query("#yes")),
                timeout=10,
                what="the offer to switch",
            )
            await pilot.press("enter")  # "No" has the focus: stay on the server ...
            fake.mode = "ok"
            await pilot.press("ctrl+r")  # ... and retry: the failed reply is replaced
            await wait_until(
                pilot,
                lambda: app.transcript.last_reply().status == "complete",
                timeout=20,
                what="the retried reply",
            )
            stored = store.messages(app.chat.id)
            assert [(m.role, m.status) for m in stored] == [
                ("user", "complete"),
                ("assistant", "complete"),
            ]
            assert stored[-1].content == "".join(PIECES)
            fake.mode = "cut"  # fails again: this time take the offer
            await send(pilot, "Say more")
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, ConfirmDialog) and bool(app.screen.query("#yes")),
                timeout=10,
                what="the offer to switch",
            )
            assert notes.has("closed the connection", "error")
            app.screen.query_one("#yes", Button).press()  # the toasts may cover it
            await wait_until(
                pilot,
                lambda: app.load_state == "ready" and not app.remote_in_use,
                timeout=60,
                what="the local model",
            )
            assert app.engine.info.name.startswith("SmolLM2")
            await send(pilot, "Name one colour.")
            await wait_until(
                pilot,
                lambda: app.transcript.last_reply().status == "complete",
                timeout=60,
                what="a local reply",
            )
        engine.close()
