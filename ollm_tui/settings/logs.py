"""Logging to the log file. Nothing the app or llama.cpp logs ever reaches the terminal."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from ollm_tui.core.folders import folder_error, os_reason

LOGGER_NAME = "ollm"


def setup_logging(log_file: Path, level: int = logging.INFO) -> str | None:
    """Send the ``ollm`` loggers to ``log_file`` (rotated at 5 MB, 3 kept).

    Returns None, or the one line to warn with when the log folder cannot be used (it names
    the folder and what to do): logging is then off, and the app still runs."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    logger.propagate = False
    target = str(log_file)
    for h in logger.handlers:
        if getattr(h, "baseFilename", None) == str(Path(target).resolve()):
            return None
    problem = None
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            target, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError as exc:  # an unwritable log dir must not stop the app
        handler = logging.NullHandler()
        reason = os_reason(exc)
        what = "the log file" if isinstance(exc, IsADirectoryError) else None
        folder = log_file if what else log_file.parent
        problem = f"{folder_error('log', folder, reason, what)}; logging is off"
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    return problem
