"""Logging to the log file. Nothing the app or llama.cpp logs ever reaches the terminal."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOGGER_NAME = "ollm"


def setup_logging(log_file: Path, level: int = logging.INFO) -> logging.Logger:
    """Send the ``ollm`` loggers to ``log_file`` (rotated at 5 MB, 3 kept)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    logger.propagate = False
    target = str(log_file)
    for h in logger.handlers:
        if getattr(h, "baseFilename", None) == str(Path(target).resolve()):
            return logger
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            target, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()  # an unwritable log dir must not stop the app
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    return logger
