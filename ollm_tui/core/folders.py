"""Plain-words reasons for a data, config or log folder that cannot be used.

One place turns an ``OSError`` (or SQLite's matching error codes) into one line that names
the path, says what is wrong and what to do. The CLI prints it as an ``ollm:`` line and
exits with code 5; the app shows it as a toast. Headless: no Textual, no Rich.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

FULL = "the disk is full"
READ_ONLY = "the file system is read-only"
DENIED = "permission denied"
NOT_A_FOLDER = "it is a file, not a folder"

_ENV = {"data": "OLLM_DATA_DIR", "config": "OLLM_CONFIG_DIR", "log": "OLLM_LOG_DIR"}


class FolderError(Exception):
    """A data, config or log folder (or a file in it) cannot be used; ``str`` is the line
    to show (path, reason, what to do)."""

    def __init__(self, message: str, path: Path, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason


def os_reason(exc: OSError) -> str:
    """What an ``OSError`` means for a folder, in plain words."""
    if isinstance(exc, FileExistsError | NotADirectoryError) or exc.errno in (
        errno.EEXIST,
        errno.ENOTDIR,
    ):
        return NOT_A_FOLDER
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return FULL
    if exc.errno == errno.EROFS:
        return READ_ONLY
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return DENIED
    if isinstance(exc, IsADirectoryError):
        return "it is a folder, not a file"
    return exc.strerror or str(exc)


def sqlite_reason(exc: sqlite3.Error) -> str | None:
    """The folder problem behind a SQLite error (disk full, read-only, cannot open), or
    None when the error is about the database itself."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc).lower()
    if primary == sqlite3.SQLITE_FULL or "disk is full" in text:
        return FULL
    if primary == sqlite3.SQLITE_READONLY or "readonly" in text or "read-only" in text:
        return READ_ONLY
    if primary in (sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH):
        return DENIED
    if primary == sqlite3.SQLITE_CANTOPEN or "unable to open" in text:
        return "the file cannot be opened"
    if primary == sqlite3.SQLITE_IOERR or "disk i/o error" in text:
        return "a disk I/O error"
    return None


def advice(kind: str, reason: str) -> str:
    """What to do about ``reason`` for the ``kind`` ("data", "config", "log") of folder."""
    env = _ENV.get(kind, "OLLM_DATA_DIR")
    if reason == FULL:
        return f"free some disk space, or set {env} to a folder on another disk"
    if reason == NOT_A_FOLDER:
        return f"move that file away, or set {env} to a folder"
    if reason == DENIED:
        return f"make it writable for this user, or set {env} to a folder you own"
    if reason == READ_ONLY:
        return f"set {env} to a folder on a writable disk"
    return f"check the folder, or set {env} to another one"


def folder_error(kind: str, path: Path, reason: str, what: str | None = None) -> FolderError:
    """The ``FolderError`` for ``path``: "cannot use the data folder P: reason; what to do".

    ``what`` names the thing instead of "the KIND folder" (e.g. "the chat database").
    """
    name = what or f"the {kind} folder"
    return FolderError(f"cannot use {name} {path}: {reason}; {advice(kind, reason)}", path, reason)
