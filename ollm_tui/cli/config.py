"""``ollm config``: where the settings file is, or every setting in effect."""

from __future__ import annotations

from ollm_tui.cli.common import EXIT_OK
from ollm_tui.settings import Settings


def cmd_config(settings: Settings, action: str) -> int:
    """``ollm config path``: the settings file's path; ``ollm config show``: every setting."""
    from ollm_tui.settings.config_file import describe_settings

    if action == "path":
        print(settings.config_file)
    else:
        print(
            f"# {settings.config_file}"
            + ("" if settings.config_file.exists() else " (not created yet)")
        )
        print(describe_settings(settings), end="")
    return EXIT_OK
