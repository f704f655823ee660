"""``ollm export``: one saved chat as Markdown or JSON, on stdout or into a file."""

from __future__ import annotations

import sys
from pathlib import Path

from ollm_tui.cli.common import EXIT_FAILURE, EXIT_OK, err, shown, store_exit
from ollm_tui.core.display import json_escape
from ollm_tui.settings import Settings


def cmd_export(settings: Settings, chat_ref: str, fmt: str, out: str | None) -> int:
    """Print (or write to ``out``) one saved chat as Markdown or JSON."""
    from ollm_tui.cli.chat import open_store
    from ollm_tui.store.db import StoreError
    from ollm_tui.store.export import render

    folder = settings.db_path.parent
    if not settings.db_path.exists() and (folder.is_dir() or not folder.exists()):
        err(f"no chats yet ({settings.db_path} does not exist)")
        return EXIT_FAILURE
    try:
        store = open_store(settings)
    except StoreError as exc:
        err(str(exc))
        return store_exit(exc)
    try:
        chat = store.find_chat(chat_ref)
        if chat is None and chat_ref.isdigit():
            chat = store.get_chat(int(chat_ref))
        if chat is None:
            err(f"no chat is called {chat_ref!r} (titles are matched exactly; an id works too)")
            return EXIT_FAILURE
        active = store.active_context(chat.id).checkpoint_ids
        text = render(chat, store.messages(chat.id), fmt, store.all_checkpoints(chat.id), active)
    finally:
        store.close()
    if fmt == "json":  # still valid JSON with the same strings, and safe to print
        text = json_escape(text)
    if out is None:
        if fmt != "json":
            text = shown(text, sys.stdout)  # Markdown on a terminal: visible escapes
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return EXIT_OK
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        err(f"cannot write {out}: {exc}")
        return EXIT_FAILURE
    return EXIT_OK
