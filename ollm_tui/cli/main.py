"""The ``ollm`` command: the chat app, one scripted turn (``-p``), and headless commands.

Exit codes (documented in docs/cli.md):
  0 success; 1 other failure (e.g. the chat database cannot be opened, or it is damaged
  and the user did not set it aside);
  2 bad arguments; 3 model not found, unreadable or failing to load;
  4 generation failed (including a message too long for the context);
  5 data or config folder unusable (a file in its place, permission denied, disk full,
    read-only; config.toml unreadable or a folder);
  130 interrupted.

``main`` only dispatches; each command lives in its own module (``models.py``,
``doctor.py``, ``config.py``, ``export.py``, ``prompt.py``, ``chat.py`` for the app) and is
imported when it runs, so ``ollm --help`` and ``ollm models`` never load llama-cpp-python
or Textual.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ollm_tui.cli.args import build_parser, settings_from_args
from ollm_tui.cli.common import EXIT_FOLDER, EXIT_USAGE, err
from ollm_tui.core.folders import FolderError
from ollm_tui.settings import SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ollm`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
    except SettingsError as exc:
        parser.print_usage(sys.stderr)
        err(str(exc))
        return EXIT_USAGE
    except FolderError as exc:  # the config folder or config.toml cannot be read
        err(str(exc))
        return EXIT_FOLDER
    if args.command is not None or args.prompt is not None:  # the app shows them as toasts
        for problem in settings.config_problems:
            err(f"warning: {problem}")
    if args.command == "config":
        from ollm_tui.cli.config import cmd_config

        return cmd_config(settings, args.action)
    if args.command == "models":
        from ollm_tui.cli.models import cmd_models

        return cmd_models(settings, args.json)
    if args.command == "doctor":
        from ollm_tui.cli.doctor import cmd_doctor

        if args.set_aside_db:
            from ollm_tui.cli.doctor import cmd_set_aside_db

            return cmd_set_aside_db(settings, args.yes)
        if args.yes:
            err("--yes only works with --set-aside-db")
            return EXIT_USAGE
        return cmd_doctor(settings, args.json)
    if args.command == "export":
        from ollm_tui.cli.export import cmd_export

        return cmd_export(settings, args.chat, args.format, args.out)
    if args.prompt is not None:
        from ollm_tui.cli.prompt import cmd_prompt

        return cmd_prompt(settings, args)
    for flag in ("chat", "seed", "max_tokens"):
        if getattr(args, flag) is not None:
            err(f"--{flag.replace('_', '-')} only works with -p")
            return EXIT_USAGE
    if args.output != "text":
        err("--output only works with -p")
        return EXIT_USAGE
    from ollm_tui.cli.chat import cmd_app

    return cmd_app(settings)
