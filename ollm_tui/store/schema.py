"""The database schema: migrations by ``PRAGMA user_version``, append only.

Migration N brings a database from ``user_version`` N-1 to N inside one transaction
(``Store._migrate``); a database of a newer version is refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the migration's transaction half-way: run statements one by one
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE chats (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            model TEXT,
            settings_json TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'divider')),
            content TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'complete',
            created_at REAL NOT NULL,
            meta_json TEXT NOT NULL DEFAULT '{}',
            UNIQUE (chat_id, seq)
        );
        CREATE INDEX messages_by_chat ON messages(chat_id, seq);
        """,
    )


def _v2(db: sqlite3.Connection) -> None:
    """The token-count cache (``store/token_counts.py``)."""
    _run_script(
        db,
        """
        CREATE TABLE token_counts (
            fingerprint TEXT NOT NULL,
            hash BLOB NOT NULL,
            tokens INTEGER NOT NULL,
            PRIMARY KEY (fingerprint, hash)
        ) WITHOUT ROWID;
        CREATE TABLE token_calibration (
            fingerprint TEXT NOT NULL,
            kind TEXT NOT NULL,
            exact INTEGER NOT NULL,
            estimate INTEGER NOT NULL,
            message_overhead REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (fingerprint, kind)
        );
        """,
    )


def _v3(db: sqlite3.Connection) -> None:
    """Compression: checkpoints, snapshots of the active context, the active context."""
    _run_script(
        db,
        """
        CREATE TABLE checkpoints (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            level INTEGER NOT NULL,
            summary TEXT NOT NULL,
            tokens INTEGER NOT NULL,
            first_message_id INTEGER NOT NULL,
            last_message_id INTEGER NOT NULL,
            message_count INTEGER NOT NULL,
            created_at REAL NOT NULL,
            fallback INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX checkpoints_by_chat ON checkpoints(chat_id, id);
        CREATE TABLE active_context (
            chat_id INTEGER PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
            checkpoint_ids TEXT NOT NULL DEFAULT '[]',
            kept_from_message_id INTEGER
        );
        CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            reason TEXT NOT NULL,
            checkpoint_ids TEXT NOT NULL DEFAULT '[]',
            kept_from_message_id INTEGER
        );
        CREATE INDEX snapshots_by_chat ON snapshots(chat_id, id)
        """,
    )


# Append only: migration N brings a database from user_version N-1 to N.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3]
SCHEMA_VERSION = len(MIGRATIONS)
