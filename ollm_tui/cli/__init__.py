"""The ``ollm`` command: one module per command, and the composition root (``chat.py``)."""

from ollm_tui.cli.main import main

__all__ = ["main"]
