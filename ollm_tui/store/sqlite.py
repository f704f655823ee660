"""The SQLite file itself: its errors in plain words, the connection that never fails on a
lone surrogate, telling a damaged file apart, and setting a damaged file aside.

``Store`` (``store/db.py``) opens the database through these; ``set_aside`` is only ever
called on the user's yes (the app's dialog, ``ollm doctor --set-aside-db``). Nothing here
deletes a database.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from ollm_tui.core.folders import folder_error, os_reason


class StoreError(Exception):
    """The database cannot be opened or is of an unknown, newer schema."""


class StoreUnusable(StoreError):
    """The data folder or the database file cannot be used: it is a file where a folder
    should be, permission is denied, the disk is full or the file system is read-only.
    ``str`` names the path, the reason and what to do; ``writing`` is True when a write
    failed on a database that had opened (nothing stored before it is lost)."""

    def __init__(self, message: str, path: Path, reason: str, writing: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason
        self.writing = writing


class DatabaseDamaged(StoreError):
    """The file is not a SQLite database, or SQLite reports it malformed. Nothing was
    changed; ``set_aside`` can move it (and its ``-wal``/``-shm``) out of the way.
    ``reason`` is SQLite's own words."""

    def __init__(self, message: str, path: Path, reason: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason


SET_ASIDE_HOW = "run `ollm` to be offered to set it aside, or `ollm doctor --set-aside-db`"
"""How to set a damaged database aside (the refusal's and ``ollm doctor``'s advice)."""


_SURROGATE = re.compile("[\ud800-\udfff]")


def _storable(value: Any) -> Any:
    """``value`` with each lone surrogate (U+D800-U+DFFF) replaced by U+FFFD: UTF-8 cannot
    hold one, so this is the one case where stored text is not byte-exact."""
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


def _storable_params(params: Any) -> Any:
    if isinstance(params, dict):
        return {k: _storable(v) for k, v in params.items()}
    return [_storable(v) for v in params]


class SafeConnection(sqlite3.Connection):
    """The store's connection: text that UTF-8 cannot encode (a lone surrogate, e.g. from
    a server's JSON ``"\\ud800"``) is stored with U+FFFD in its place instead of failing
    the write. ``execute`` checks only after an encoding failed (binding fails before the
    statement runs, so nothing ran twice); ``executemany`` (the token-count cache's small
    rows) checks every row, as a retry could repeat the rows already written."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except UnicodeEncodeError:
            return super().execute(_storable(sql), _storable_params(parameters))

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        rows = [_storable_params(p) for p in seq_of_parameters]
        return super().executemany(sql, rows)


_DAMAGED = (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)


def is_damaged(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _DAMAGED:
        return True
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


_HEADER = b"SQLite format 3\x00"


def not_sqlite(path: Path) -> bool:
    """True for a non-empty file that does not start with SQLite's header (an empty or
    missing file becomes a fresh database; unreadable ones are SQLite's to report)."""
    try:
        with path.open("rb") as f:
            head = f.read(len(_HEADER))
    except OSError:
        return False
    return bool(head) and head != _HEADER


def set_aside(path: Path, now: float | None = None) -> list[Path]:
    """Rename a damaged database and its ``-wal``/``-shm`` files to
    ``NAME.damaged-YYYYMMDD-HHMMSS[...]`` beside it (never deleted); returns the new paths.

    The stamp is local time; a clash (twice in one second) adds ``-2``, ``-3``… A rename
    the folder refuses raises ``StoreUnusable`` (the files renamed before it stay renamed).
    """
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = f"{path.name}.damaged-{stamp}"
    n = 1
    suffixes = ("", "-wal", "-shm")
    while any((path.parent / f"{base}{'' if n == 1 else f'-{n}'}{s}").exists() for s in suffixes):
        n += 1
    target = f"{base}{'' if n == 1 else f'-{n}'}"
    moved: list[Path] = []
    for suffix in ("", "-wal", "-shm"):
        source = path.parent / f"{path.name}{suffix}"
        if source.exists():
            dest = path.parent / f"{target}{suffix}"
            try:
                source.rename(dest)
            except OSError as exc:  # e.g. the folder is not writable: say so, name it
                reason = os_reason(exc)
                problem = folder_error("data", path.parent, reason)
                raise StoreUnusable(str(problem), path.parent, reason) from None
            moved.append(dest)
    return moved
