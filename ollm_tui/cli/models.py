"""``ollm models``: every model ollm can find, usable or not, as a table or JSON."""

from __future__ import annotations

import json
import sys
from typing import Any

from ollm_tui.cli.common import EXIT_OK, shown
from ollm_tui.settings import Settings


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def cmd_models(settings: Settings, as_json: bool) -> int:
    """Print every model found, usable or not."""
    from ollm_tui.engine.registry import discover
    from ollm_tui.engine.remote.models import server_entries

    entries = discover(settings) + server_entries(settings)
    rows: list[dict[str, Any]] = []
    for e in entries:
        i = e.info
        rows.append(
            {
                "name": e.name,
                "path": str(e.path),
                "size_bytes": e.size_bytes,
                "source": e.source,
                "architecture": i.architecture if i else None,
                "quantization": i.quantization if i else None,
                "context_length": i.context_length if i else None,
                "chat_template": i.has_chat_template if i else None,
                "parameters": i.parameter_count if i else None,
                "usable": e.usable,
                "error": e.error,
                "note": e.note,
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("No models found. Put .gguf files in", settings.user_models_dir)
        return EXIT_OK
    header = ("NAME", "SIZE", "ARCH", "QUANT", "CONTEXT", "TEMPLATE", "SOURCE")
    table = [header]
    for r in rows:
        table.append(
            (
                r["name"],
                _size(r["size_bytes"]),
                r["architecture"] or "-",
                r["quantization"] or "-",
                str(r["context_length"] or "-"),
                "-" if r["chat_template"] is None else ("yes" if r["chat_template"] else "no"),
                r["source"],
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        print(shown(line, sys.stdout))  # names come from files and servers
    for r in rows:
        if r["error"]:
            print(shown(f"unusable: {r['path']}: {r['error']}", sys.stdout))
        elif r["note"]:
            print(shown(f"note: {r['name']}: {r['note']}", sys.stdout))
    return EXIT_OK
