"""Server models in the model picker: listed beside local files, a dead server greyed out
(never a wait), switching to one, and F4's note. The servers are small local ones the test
controls; the local engine is the fake (this is about the UI)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, OptionList

from ollm_tui.engine.registry import starter_model_path
from ollm_tui.engine.remote.engine import RemoteEngine, Timeouts
from ollm_tui.engine.routing import RoutedEngine
from ollm_tui.settings.servers import ServerConfig, remote_path
from ollm_tui.ui.screens.dialogs import ConfirmDialog
from ollm_tui.ui.screens.pickers import ModelPicker
from tests.app.helpers import make_test_app, wait_ready, wait_until
from tests.fake_server import MODEL, FakeServer, free_port
from tests.fakes import FakeEngine


async def test_model_picker_lists_servers_and_switches_to_one(settings, store) -> None:
    starter = starter_model_path()
    assert starter is not None
    with FakeServer() as fake:
        servers = (
            ServerConfig("box", fake.url, context=4096),
            ServerConfig("gone", f"http://127.0.0.1:{free_port()}"),
        )
        settings = settings.with_(servers=servers)
        engine = RoutedEngine(FakeEngine(), RemoteEngine(servers, Timeouts(1.0, 2.0, 1.0)))
        app, notes = make_test_app(settings, store, engine, Path(starter))
        async with app.run_test(size=(130, 30)) as pilot:
            await wait_ready(pilot)
            await pilot.press("f3")
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, ModelPicker)
                    and any(r.entry.name == "@gone" for r in app.screen.rows)
                ),
                timeout=10,
                what="the servers' rows",
            )
            picker = app.screen
            names = [r.entry.name for r in picker.rows]
            box = picker.rows[names.index(f"{MODEL}@box")]
            gone = picker.rows[names.index("@gone")]
            assert box.text == f"{MODEL}@box  on server box"
            assert "unusable: server unavailable: cannot reach server gone" in gone.text
            options = picker.query_one("#model-options", OptionList)
            assert options.get_option_at_index(names.index("@gone")).disabled
            options.highlighted = names.index(f"{MODEL}@box")
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: app.load_state == "ready" and engine.remote_active,
                what="the server model",
            )
            assert app.status_line.model_name == f"{MODEL}@box"
            assert engine.info.n_ctx == 4096 and app.status_line.tier == "server"
            dividers = [m.content for m in store.messages(app.chat.id) if m.role == "divider"]
            assert dividers == [f"Switched to {MODEL}@box on server box · context from the server"]
            # this server has no tokenize endpoint: the meter shows an estimate ("~")
            await wait_until(
                pilot, lambda: app.status_line.meter.exact is not None, what="a count of the chat"
            )
            assert app.status_line.meter.text.startswith("~")
            assert app.accounting.figures()["counting"].startswith("estimate")
            await pilot.press("f4")
            await pilot.pause(0.1)
            assert notes.has("runs on a server") and notes.has("4,096 tokens")
            assert notes.has("describes this machine only")


async def test_a_server_gone_before_the_reply_gives_the_message_back_and_an_offer(
    settings, store
) -> None:
    starter = starter_model_path()
    with FakeServer() as fake:
        fake.routes["/extras/tokenize"] = {"tokens": [1, 2, 3]}  # counts go to the server
        server = ServerConfig("box", fake.url, context=4096)
        settings = settings.with_(servers=(server,))
        local = FakeEngine()
        engine = RoutedEngine(local, RemoteEngine((server,), Timeouts(1.0, 2.0, 1.0)))
        app, notes = make_test_app(settings, store, engine, remote_path("box", MODEL))
        async with app.run_test(size=(130, 30)) as pilot:
            await wait_ready(pilot)
            await wait_until(pilot, lambda: app.accounting.counter is not None, what="the counter")
            fake.httpd.shutdown()
            fake.httpd.server_close()  # the server goes away
            app.composer.load_text("Anyone there?")
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: notes.has("cannot reach server box", "error"),
                timeout=10,
                what="the error toast",
            )
            assert notes.has("Your message is back in the composer")
            assert app.composer.text == "Anyone there?"
            assert store.messages(app.chat.id) == []  # nothing half-stored
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, ConfirmDialog) and bool(app.screen.query("#yes")),
                what="the offer",
            )
            app.screen.query_one("#yes", Button).press()  # the toasts may cover it
            await wait_until(
                pilot,
                lambda: app.load_state == "ready" and not engine.remote_active,
                what="the local model",
            )
            assert app.model_path == starter and local.info is not None


async def test_a_server_down_at_start_is_reported_and_the_local_model_offered(
    settings, store
) -> None:
    server = ServerConfig("gone", f"http://127.0.0.1:{free_port()}")
    settings = settings.with_(servers=(server,))
    local = FakeEngine()
    engine = RoutedEngine(local, RemoteEngine((server,), Timeouts(1.0, 2.0, 1.0)))
    app, notes = make_test_app(settings, store, engine, remote_path("gone", "big-model"))
    async with app.run_test(size=(130, 30)) as pilot:
        await wait_until(pilot, lambda: app.load_state == "failed", what="the load to fail")
        assert notes.has("Could not load big-model@gone", "error")
        assert notes.has("connection refused", "error")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, ConfirmDialog) and bool(app.screen.query("#yes")),
            what="the offer",
        )
        app.screen.query_one("#yes", Button).press()  # the toasts may cover it
        await wait_until(pilot, lambda: app.load_state == "ready", what="the local model")
        assert local.info is not None and not engine.remote_active
