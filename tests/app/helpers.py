"""Helpers for Pilot tests of the app: waiting on a condition, reading what is on screen."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from textual.pilot import Pilot
from textual.widget import Widget

from ollm_tui.cli.chat import build_components
from ollm_tui.engine.base import Backend
from ollm_tui.session.components import Startup
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store
from ollm_tui.ui.app import OllmApp, make_app

FAKE_MODEL = Path("/models/SmolLM2-135M-Instruct.Q4_1.gguf")
"""A model path that is the same on every machine (the fake engine never opens it)."""


async def wait_until(
    pilot: Pilot[Any],
    predicate: Callable[[], object],
    timeout: float = 5.0,  # noqa: ASYNC109  a polling deadline that fails the test as an AssertionError naming `what`; asyncio.timeout would raise TimeoutError instead
    what: str = "",
) -> None:
    """Let the app run until ``predicate()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        await pilot.pause(0.02)


_SVG_TEXT = re.compile(
    r'<text [^>]*?x="([0-9.e+-]+)"[^>]*?textLength="([0-9.e+-]+)"'
    r'[^>]*?clip-path="url\(#[^)]*-line-(\d+)\)"[^>]*>(.*?)</text>'
)


def screen_lines(app: OllmApp) -> list[str]:
    """The whole screen as plain text, one string per row (what a user would read).

    Read from the public screenshot (``App.export_screenshot``): its SVG places each run of
    text at its column on its line; the cells between runs are blank.
    """
    width, height = app.size
    cells = [[" "] * width for _ in range(height)]
    for x, length, line, content in _SVG_TEXT.findall(app.export_screenshot()):
        text = html.unescape(content).replace("\xa0", " ")  # the SVG writes spaces as &#160;
        char_width = float(length) / max(cell_len(text), 1)
        column, row = round(float(x) / char_width), int(line)
        if row >= height:
            continue
        for char in text:
            if column < width:
                cells[row][column] = char
                for extra in range(1, cell_len(char)):  # a wide character covers two cells
                    if column + extra < width:
                        cells[row][column + extra] = ""
            column += cell_len(char)
    return ["".join(row) for row in cells]


def rendered_text(widget: Widget) -> str:
    """The text on screen inside a widget's region, children included (styles dropped)."""
    region = widget.region
    rows = screen_lines(widget.app)[region.y : region.bottom]  # type: ignore[arg-type]
    return "\n".join(row[region.x : region.right] for row in rows)


class Notes:
    """Records every ``notify`` call of an app (and still shows the toast)."""

    def __init__(self, app: OllmApp) -> None:
        self.calls: list[tuple[str, str, bool]] = []
        original = app.notify

        def notify(
            message: str, *, severity: str = "information", markup: bool = True, **kwargs: Any
        ) -> None:
            self.calls.append((message, severity, markup))
            original(message, severity=severity, markup=markup, **kwargs)  # type: ignore[arg-type]

        app.notify = notify  # type: ignore[method-assign]

    def messages(self, severity: str | None = None) -> list[str]:
        """The messages shown, optionally only those of one severity."""
        return [m for m, s, _ in self.calls if severity is None or s == severity]

    def has(self, text: str, severity: str | None = None) -> bool:
        """True when some message of that severity contains ``text``."""
        return any(text in m for m in self.messages(severity))


def make_test_app(
    settings: Settings,
    store: Store,
    engine: Backend,
    model_path: Path | None = FAKE_MODEL,
    **kwargs: Any,
) -> tuple[OllmApp, Notes]:
    """The app under test and a recorder of its notifications, built as the CLI builds it
    (``build_components`` then ``make_app``). ``kwargs``: ``startup_error``,
    ``load_options``, ``placement``, ``warnings`` (what the CLI resolved), ``memory_probe``."""
    components = build_components(settings, store, engine, kwargs.pop("memory_probe", None))
    startup = Startup(
        model_path,
        error=kwargs.pop("startup_error", None),
        load_options=kwargs.pop("load_options", None),
        placement=kwargs.pop("placement", None),
        warnings=tuple(kwargs.pop("warnings", ())),
    )
    if kwargs:
        raise TypeError(f"make_test_app: unexpected arguments {sorted(kwargs)}")
    app = make_app(components, startup)
    return app, Notes(app)


async def wait_ready(pilot: Pilot[Any]) -> None:
    """Wait until the model has loaded."""
    app = pilot.app
    assert isinstance(app, OllmApp)
    await wait_until(pilot, lambda: app.load_state == "ready", what="the model to load")


async def send(pilot: Pilot[Any], text: str) -> None:
    """Type ``text`` into the composer (in one go) and press Enter."""
    app = pilot.app
    assert isinstance(app, OllmApp)
    app.composer.focus()
    app.composer.load_text(text)
    await pilot.press("enter")
