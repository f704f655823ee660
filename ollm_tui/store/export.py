"""A chat written out as Markdown or JSON (``ollm export`` and the palette's export commands).

The export always holds the full original history. Checkpoints (summaries written by
compression) are added: in Markdown as a quoted block after the last message each one
covers, in JSON as a ``checkpoints`` list; each says whether the model is sent it now.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ollm_tui.core.conversation import Checkpoint
from ollm_tui.store.db import Chat, Message

FORMATS = ("md", "json")
"""The export formats, by file extension."""

_ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _checkpoint_md(cp: Checkpoint, active: bool) -> list[str]:
    state = "sent to the model" if active else "no longer sent"
    lines = [f"> **Checkpoint** ({cp.label}; {state})", ">"]
    lines += [f"> {line}" if line else ">" for line in cp.summary.strip().splitlines()]
    return [*lines, ""]


def to_markdown(
    chat: Chat,
    messages: list[Message],
    checkpoints: Sequence[Checkpoint] = (),
    active_ids: Sequence[int] = (),
) -> str:
    """The chat as a Markdown document: a title, then one section per message, with each
    checkpoint quoted after the last message it covers."""
    out = [f"# {chat.title}", "", f"Exported from ollm. Started {_iso(chat.created_at)}.", ""]
    after: dict[int, list[Checkpoint]] = {}
    for cp in checkpoints:
        after.setdefault(cp.last_message_id, []).append(cp)
    placed: set[int] = set()
    for m in messages:
        heading = _ROLE_TITLES.get(m.role, m.role.title())
        model = m.meta.get("model")
        if m.role == "assistant" and model:
            heading += f" ({model})"
        out += [f"## {heading}", "", m.content.rstrip()]
        if m.status != "complete":
            out += ["", f"*[{m.status}]*"]
        out.append("")
        for cp in after.get(m.id, []):
            out += _checkpoint_md(cp, cp.id in active_ids)
            placed.add(cp.id)
    for cp in checkpoints:  # one whose last message is gone (never expected): at the end
        if cp.id not in placed:
            out += _checkpoint_md(cp, cp.id in active_ids)
    return "\n".join(out)


def to_json(
    chat: Chat,
    messages: list[Message],
    checkpoints: Sequence[Checkpoint] = (),
    active_ids: Sequence[int] = (),
) -> str:
    """The chat as a JSON object: its title, times, every message with its metadata (with
    its id), and every checkpoint."""
    return json.dumps(
        {
            "title": chat.title,
            "created_at": _iso(chat.created_at),
            "updated_at": _iso(chat.updated_at),
            "messages": [
                {
                    "id": m.id,
                    "role": m.role,
                    "content": m.content,
                    "status": m.status,
                    "created_at": _iso(m.created_at),
                    "meta": m.meta,
                }
                for m in messages
            ],
            "checkpoints": [
                {
                    "id": cp.id,
                    "level": cp.level_name,
                    "summary": cp.summary,
                    "tokens": cp.tokens,
                    "first_message_id": cp.first_message_id,
                    "last_message_id": cp.last_message_id,
                    "message_count": cp.message_count,
                    "created_at": _iso(cp.created_at),
                    "extractive": cp.fallback,
                    "active": cp.id in active_ids,
                }
                for cp in checkpoints
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def render(
    chat: Chat,
    messages: list[Message],
    fmt: str,
    checkpoints: Sequence[Checkpoint] = (),
    active_ids: Sequence[int] = (),
) -> str:
    """The chat in format ``fmt`` (md or json), with its checkpoints."""
    if fmt == "md":
        return to_markdown(chat, messages, checkpoints, active_ids)
    if fmt == "json":
        return to_json(chat, messages, checkpoints, active_ids)
    raise ValueError(f"unknown export format {fmt!r} (use md or json)")


def file_name(chat: Chat, fmt: str) -> str:
    """A safe file name for the chat: its id and a slug of its title."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", chat.title).strip("-").lower()[:50] or "chat"
    return f"chat-{chat.id}-{slug}.{fmt}"


def write_export(
    chat: Chat,
    messages: list[Message],
    fmt: str,
    folder: Path,
    checkpoints: Sequence[Checkpoint] = (),
    active_ids: Sequence[int] = (),
) -> Path:
    """Write the chat into ``folder`` (created if needed) and return the file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(chat, fmt)
    path.write_text(render(chat, messages, fmt, checkpoints, active_ids), encoding="utf-8")
    return path
