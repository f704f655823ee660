"""The composition root: builds the store, engine, accounting, KV cache and summariser once,
and opens the chat app on them.

Every command that runs a model takes its collaborators from ``build_components``: the app
(``cmd_app`` below), ``ollm -p`` (``cli/prompt.py``) and the tests. Nothing else in ``cli/``
opens the chat database or constructs an engine, the token accounting or the KV-state cache;
``open_store`` is the one place the database is opened (``ollm export`` reads it too).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from ollm_tui.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    err,
    plan_placement,
    store_exit,
)
from ollm_tui.core.hardware import HardwareProbe
from ollm_tui.engine.base import Backend
from ollm_tui.engine.factory import load_options, make_engine
from ollm_tui.engine.kv_state import ChatKvCache, KvStateStore
from ollm_tui.session.accounting import Accounting
from ollm_tui.session.components import Components
from ollm_tui.session.summariser import EngineSummariser
from ollm_tui.settings import Settings
from ollm_tui.store.db import DatabaseDamaged, Store

IN_MEMORY = Path(":memory:")
"""The database of a one-off ``ollm -p`` turn: nothing is saved."""


def open_store(settings: Settings, in_memory: bool = False) -> Store:
    """The chat database (``settings.db_path``), or an empty in-memory one. Raises
    ``StoreError`` when it cannot be opened."""
    return Store(IN_MEMORY if in_memory else settings.db_path)


def build_components(
    settings: Settings,
    store: Store | None = None,
    engine: Backend | None = None,
    probe: HardwareProbe | None = None,
    lazy: bool = True,
    *,
    in_memory: bool = False,
) -> Components:
    """Everything one process runs on.

    - ``store`` None opens the chat database (``open_store``; raises ``StoreError``), or an
      in-memory one with ``in_memory`` (``ollm -p`` without ``--chat``). Tests pass theirs.
    - ``engine`` None builds the in-process engine (``engine.factory.make_engine``); tests
      pass a fake one. ``lazy`` defers importing llama-cpp-python to the first load (the app
      loads in a worker); ``ollm -p`` loads at once and passes ``lazy=False``.

    The accounting is built detached: the app attaches a counting codec after each load,
    ``ollm -p`` the engine's own model (``engine.counting_codec(shared=True)``). The KV-state
    cache is always built (building it touches no file); a session uses it only when it is
    set on it (the app, and ``ollm -p --chat``). Close with ``close_components``.
    """
    if store is None:
        store = open_store(settings, in_memory)
    errors: list[str] = []
    if engine is None:
        engine, errors = make_engine(settings, lazy=lazy)
    return Components(
        settings=settings,
        store=store,
        engine=engine,
        accounting=Accounting(settings, store),
        kv_cache=ChatKvCache(KvStateStore(settings.kv_dir, settings.kv_cache_max_bytes), engine),
        summariser=EngineSummariser(engine, settings),
        probe=probe or HardwareProbe(),
        profile_errors=tuple(errors),
    )


def close_components(components: Components) -> None:
    """Shut down in order: the accounting (saves the estimate calibration, frees its
    tokenizer), any separate ``summary_model``, the engine, then the database."""
    from ollm_tui.session.summariser import close_summary_models

    components.accounting.detach()
    close_summary_models()
    components.engine.close()
    components.store.close()


AskSetAside = Callable[[Path, str], bool]
"""Asks the user whether to set a damaged database aside (path, SQLite's reason)."""


def offer_set_aside(
    settings: Settings, exc: DatabaseDamaged, ask: AskSetAside
) -> tuple[Store | None, str | None]:
    """A damaged chat database (``DatabaseDamaged``): ask, and on a yes set it aside
    (``store.db.set_aside``: renamed with its ``-wal``/``-shm``, never deleted) and open a
    fresh one. Returns the fresh store and the line saying where the old file went; (None,
    None) on a no, with nothing changed. Raises ``StoreError`` if the fresh one cannot open.
    """
    from ollm_tui.store.sqlite import set_aside

    path = exc.path
    if not ask(path, exc.reason or str(exc)):
        return None, None
    moved = set_aside(path)
    where = ", ".join(str(p) for p in moved) or str(path)
    note = f"the damaged chat database was set aside as {where}; starting a fresh one"
    return open_store(settings), note


def cmd_app(settings: Settings, ask: AskSetAside | None = None) -> int:
    """Open the full-screen chat. On a damaged chat database, first ask (``ask``; default:
    the small dialog of ``ui/screens/damaged_db.py``) whether to set it aside; a no exits
    with code 1 and the refusal on standard error, changing nothing."""
    from ollm_tui.engine.base import EngineError
    from ollm_tui.engine.remote.models import is_remote_entry, resolve_model
    from ollm_tui.session.components import Startup
    from ollm_tui.settings.logs import setup_logging
    from ollm_tui.store.db import StoreError

    if not sys.stdout.isatty() or not sys.stdin.isatty():
        err("the chat app needs a terminal; use `ollm -p TEXT` for scripts")
        return EXIT_USAGE
    log_problem = setup_logging(settings.log_file)
    warnings: list[str] = [log_problem[0].upper() + log_problem[1:] + "."] if log_problem else []
    try:
        try:
            store = open_store(settings)
        except DatabaseDamaged as exc:
            if ask is None:
                from ollm_tui.ui.screens.damaged_db import ask_set_aside

                ask = ask_set_aside
            fresh, note = offer_set_aside(settings, exc, ask)
            if fresh is None or note is None:
                err(str(exc))
                return EXIT_FAILURE
            err(note)
            warnings.append(note[0].upper() + note[1:] + ".")
            store = fresh
    except StoreError as exc:  # the chat database cannot be opened
        err(str(exc))
        return store_exit(exc)
    components = build_components(settings, store)
    model_path: Path | None = None
    startup_error: str | None = None
    placement = None
    try:
        entry = resolve_model(settings, settings.model)
        model_path = entry.path
        recent = store.most_recent_chat()  # the chat the app opens
        if not is_remote_entry(entry):  # a server decides its own context
            placement = plan_placement(settings, entry, recent.settings if recent else None)
    except EngineError as exc:
        startup_error = str(exc)
    except ValueError as exc:  # TierError
        err(str(exc))
        store.close()
        return EXIT_USAGE
    from ollm_tui.ui.app import make_app

    startup = Startup(
        model_path,
        startup_error,
        placement.options if placement else load_options(settings),
        placement,
        warnings=tuple(warnings),
    )
    app = make_app(components, startup)
    try:
        app.run()
    finally:
        close_components(components)
    return app.return_code or EXIT_OK
