"""A chat written out as Markdown or JSON (``ollm export`` and the palette's export commands)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from ollm_tui.store.db import Chat, Message

FORMATS = ("md", "json")
"""The export formats, by file extension."""

_ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def to_markdown(chat: Chat, messages: list[Message]) -> str:
    """The chat as a Markdown document: a title, then one section per message."""
    out = [f"# {chat.title}", "", f"Exported from ollm. Started {_iso(chat.created_at)}.", ""]
    for m in messages:
        heading = _ROLE_TITLES.get(m.role, m.role.title())
        model = m.meta.get("model")
        if m.role == "assistant" and model:
            heading += f" ({model})"
        out += [f"## {heading}", "", m.content.rstrip()]
        if m.status != "complete":
            out += ["", f"*[{m.status}]*"]
        out.append("")
    return "\n".join(out)


def to_json(chat: Chat, messages: list[Message]) -> str:
    """The chat as a JSON object: its title, times, and every message with its metadata."""
    return json.dumps(
        {
            "title": chat.title,
            "created_at": _iso(chat.created_at),
            "updated_at": _iso(chat.updated_at),
            "messages": [
                {
                    "role": m.role,
                    "content": m.content,
                    "status": m.status,
                    "created_at": _iso(m.created_at),
                    "meta": m.meta,
                }
                for m in messages
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def render(chat: Chat, messages: list[Message], fmt: str) -> str:
    """The chat in format ``fmt`` (md or json)."""
    if fmt == "md":
        return to_markdown(chat, messages)
    if fmt == "json":
        return to_json(chat, messages)
    raise ValueError(f"unknown export format {fmt!r} (use md or json)")


def file_name(chat: Chat, fmt: str) -> str:
    """A safe file name for the chat: its id and a slug of its title."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", chat.title).strip("-").lower()[:50] or "chat"
    return f"chat-{chat.id}-{slug}.{fmt}"


def write_export(chat: Chat, messages: list[Message], fmt: str, folder: Path) -> Path:
    """Write the chat into ``folder`` (created if needed) and return the file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(chat, fmt)
    path.write_text(render(chat, messages, fmt), encoding="utf-8")
    return path
