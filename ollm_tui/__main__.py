"""``python -m ollm_tui``: the same as the ``ollm`` command (``ollm_tui/cli``)."""

from ollm_tui.cli import main

raise SystemExit(main())
