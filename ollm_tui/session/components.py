"""What the app and ``ollm -p`` run on: built once by the composition root (``cli/chat.py``).

The app, the ``-p`` command and the tests all take these objects from
``cli.chat.build_components``; nothing below the CLI constructs a store, an engine, the
token accounting, the KV-state cache or the summariser by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ollm_tui.core.hardware import HardwareProbe
from ollm_tui.engine.base import Backend, LoadOptions
from ollm_tui.engine.kv_state import ChatKvCache
from ollm_tui.engine.planning import Placement
from ollm_tui.session.accounting import Accounting
from ollm_tui.session.summariser import EngineSummariser
from ollm_tui.settings import Settings
from ollm_tui.store.db import Store


@dataclass
class Components:
    """The long-lived collaborators of one process."""

    settings: Settings
    store: Store
    engine: Backend
    accounting: Accounting
    """Token counts, the count cache and the budget."""
    kv_cache: ChatKvCache
    """Per-chat KV states: saved after replies, restored when a chat is resumed."""
    summariser: EngineSummariser
    """Writes checkpoint summaries (the loaded model, or ``summary_model``)."""
    probe: HardwareProbe
    """Where memory samples come from (tests pass a described machine)."""
    profile_errors: tuple[str, ...] = ()
    """Broken profile files found while building the engine (shown as warnings)."""


@dataclass(frozen=True)
class Startup:
    """What the app loads first, as the CLI resolved and planned it."""

    model_path: Path | None
    """The model to load (None: none was found)."""
    error: str | None = None
    """Why no model can be loaded (shown instead of loading)."""
    load_options: LoadOptions | None = None
    placement: Placement | None = None
    """The tier plan the model is loaded with (None for a server model, or unknown)."""
    warnings: tuple[str, ...] = ()
    """Problems worth a toast that do not stop the model loading."""
