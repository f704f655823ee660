"""What every ``ollm`` command shares: the exit codes, the error line, and the tier plan of
a model about to be loaded (the app and ``-p`` both plan before loading).

The exit codes are documented in the ``cli/main.py`` docstring and in docs/cli.md.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ollm_tui.core.display import display
from ollm_tui.settings import Settings

if TYPE_CHECKING:  # imported when a plan is made: `ollm --help` stays light
    from ollm_tui.engine.planning import Placement
    from ollm_tui.engine.registry import ModelEntry

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_MODEL = 3
EXIT_GENERATION = 4
EXIT_FOLDER = 5
EXIT_INTERRUPTED = 130


def is_terminal(stream: Any) -> bool:
    """True when ``stream`` is a terminal (False for pipes, files and closed streams)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def shown(text: str, stream: Any) -> str:
    """``text`` as written to ``stream``: control, C1 and bidi characters as visible escapes
    when it is a terminal (``core/display.py``); the exact text for a pipe or a file."""
    return display(text) if is_terminal(stream) else text


def err(message: str) -> None:
    """An ``ollm:`` line on standard error (its text made terminal-safe on a terminal):
    errors, warnings and notes alike."""
    print(shown(f"ollm: {message}", sys.stderr), file=sys.stderr)


def store_exit(exc: Exception) -> int:
    """The exit code for a store that did not open: 5 for an unusable data folder."""
    from ollm_tui.store.db import StoreUnusable

    return EXIT_FOLDER if isinstance(exc, StoreUnusable) else EXIT_FAILURE


def plan_placement(
    settings: Settings, entry: ModelEntry, chat_settings: dict | None = None
) -> Placement:
    """The tier plan and load options for a resolved model (TierError if --tier is not offered).

    ``chat_settings``: the settings of the chat about to open; a tier it was locked to for
    this model is kept (unless the command line says otherwise, or the size is gone).
    """
    from ollm_tui.engine.planning import load_all_profiles, place, stored_choice

    info = entry.info
    assert info is not None, entry.path  # resolve_model has read a local model's header
    profiles = load_all_profiles(settings)
    choice = stored_choice(settings, chat_settings or {}, entry.path)
    if choice is not None:
        try:
            return place(settings, info, profiles=profiles, choice=choice, save_profile=True)
        except ValueError:  # the stored size is no longer offered: auto decides
            pass
    return place(settings, info, profiles=profiles, save_profile=True)
