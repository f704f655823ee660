"""The question asked before the app opens on a damaged chat database, answered through
Pilot; and the toast that says where a set-aside database went."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.screens.damaged_db import DamagedDatabaseApp
from tests.app.helpers import make_test_app, rendered_text, wait_ready, wait_until
from tests.fakes import FakeEngine

PATH = Path("/home/u/.local/share/ollm_tui/ollm.db")


async def answer(keys: list[str] | None = None, click: str | None = None) -> bool | None:
    app = DamagedDatabaseApp(PATH, "file is not a database")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        text = " ".join(rendered_text(app.query_one("#question")).split())  # unwrapped
        assert str(PATH) in text and "file is not a database" in text
        assert "ollm.db.damaged-" in text and "nothing is deleted" in text
        if click:
            await pilot.click(click)
        for key in keys or []:
            await pilot.press(key)
        await pilot.pause()
    return app.return_value


@pytest.mark.parametrize(
    ("keys", "click", "expected"),
    [
        (None, "#yes", True),
        (None, "#no", False),
        (["escape"], None, False),
        (["enter"], None, False),  # No is focused: Enter alone never renames anything
        (["right", "enter"], None, True),
        (["y"], None, True),
        (["n"], None, False),
    ],
)
async def test_the_dialog_answers(keys, click, expected) -> None:
    assert bool(await answer(keys, click)) is expected


async def test_the_app_says_where_the_damaged_database_went(
    settings: Settings, store: Store
) -> None:
    note = "The damaged chat database was set aside as /d/ollm.db.damaged-20261203-101500."
    app, notes = make_test_app(settings, store, FakeEngine(), warnings=[note])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: notes.has("set aside as"), what="the toast")
