"""The composition root: builds the store, engine, accounting, KV cache and summariser once,
and opens the chat app on them. ``ollm -p`` and the tests build through here too."""

from __future__ import annotations

from ollm_tui.core.hardware import HardwareProbe
from ollm_tui.engine.base import Backend
from ollm_tui.engine.factory import make_engine
from ollm_tui.engine.kv_state import ChatKvCache, KvStateStore
from ollm_tui.session.accounting import Accounting
from ollm_tui.session.components import Components
from ollm_tui.session.summariser import EngineSummariser
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store


def build_components(
    settings: Settings,
    store: Store,
    engine: Backend | None = None,
    probe: HardwareProbe | None = None,
    lazy: bool = True,
) -> Components:
    """Everything one process runs on. ``engine`` None builds the in-process engine (lazy:
    llama-cpp-python is imported on the first load); tests pass a fake one."""
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
