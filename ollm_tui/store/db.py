"""Chats and messages in one SQLite file (WAL, schema versioned by ``PRAGMA user_version``).

The store is the only owner of chat data. Every write commits at once, so a crash or a
``kill`` loses at most the reply text streamed since the last save. It is safe to use from
several threads: one connection, guarded by a lock.

Text is stored exactly, with one exception: a lone surrogate (UTF-8 cannot hold one) is
stored as U+FFFD (``store/sqlite.py`` ``SafeConnection``). A damaged file is refused
(``DatabaseDamaged``) and only ``store.sqlite.set_aside``, on the user's yes, ever renames
it; nothing here deletes a database. The schema and its migrations are ``store/schema.py``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ollm_tui.core.conversation import ActiveContext, Checkpoint, Snapshot
from ollm_tui.core.folders import folder_error, os_reason, sqlite_reason
from ollm_tui.store.schema import MIGRATIONS, SCHEMA_VERSION
from ollm_tui.store.sqlite import (
    SET_ASIDE_HOW,
    DatabaseDamaged,
    SafeConnection,
    StoreError,
    StoreUnusable,
    is_damaged,
    not_sqlite,
)

MessageStatus = Literal["complete", "stopped", "streaming", "interrupted", "error"]
"""complete: finished normally; stopped: the user pressed Esc; streaming: being written now;
interrupted: was streaming when the app died (fixed up on open); error: generation failed."""


@dataclass(frozen=True)
class Chat:
    """A saved conversation."""

    id: int
    title: str
    created_at: float
    updated_at: float
    model: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    """One message of a chat, in order (``seq``)."""

    id: int
    chat_id: int
    seq: int
    role: str
    content: str
    status: MessageStatus
    created_at: float
    meta: dict[str, Any] = field(default_factory=dict)


class Store:
    """The chat database. Open with a path; ``close()`` when done."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        memory = str(path) == ":memory:"
        if not memory:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.is_dir():
                    raise IsADirectoryError(errno.EISDIR, "Is a directory", str(self.path))
            except OSError as exc:
                folder = self.path if isinstance(exc, IsADirectoryError) else self.path.parent
                what = "the chat database" if folder == self.path else None
                raise self._unusable(folder, os_reason(exc), what) from None
        self._lock = threading.RLock()
        if not memory and not_sqlite(self.path):  # before SQLite opens it, or a -wal
            raise self._damaged_error("file is not a database")  # beside it may be dropped
        try:
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, factory=SafeConnection
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
            self._recover_interrupted()
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(Exception):
                self._db.close()
            if is_damaged(exc):
                raise self._damaged_error(str(exc)) from None
            reason = sqlite_reason(exc)
            if reason is not None:
                raise self._unusable(self.path.parent, reason) from None
            raise StoreError(f"cannot open the chat database {self.path}: {exc}") from exc
        except StoreUnusable:
            with contextlib.suppress(Exception):
                self._db.close()
            raise

    def _damaged_error(self, reason: str) -> DatabaseDamaged:
        return DatabaseDamaged(
            f"the chat database {self.path} is damaged ({reason}); nothing was changed. "
            f"To start a fresh one, {SET_ASIDE_HOW} (renamed, never deleted)",
            self.path,
            reason,
        )

    def _unusable(
        self, path: Path, reason: str, what: str | None = None, writing: bool = False
    ) -> StoreUnusable:
        problem = folder_error("data", path, reason, what)
        return StoreUnusable(str(problem), path, reason, writing)

    # -- plumbing ------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. A write the disk refuses (full, read-only) rolls back and
        raises ``StoreUnusable`` (``writing=True``); what was committed before stays."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:  # SQLite may have rolled back already
                        with contextlib.suppress(sqlite3.Error):
                            self._db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                reason = sqlite_reason(exc)
                if reason is None:
                    raise
                raise self._unusable(self.path, reason, "the chat database", writing=True) from exc

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction on the store's connection, under its lock: ``BEGIN
        IMMEDIATE``, then ``COMMIT``, or ``ROLLBACK`` when the block raises. For tables kept
        beside the store's own (``store/token_counts.py``)."""
        return self._tx()

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read query, run under the store's lock."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer ollm_tui (schema {version} > {SCHEMA_VERSION})"
            )
        for number in range(version, SCHEMA_VERSION):
            with self._tx() as db:
                MIGRATIONS[number](db)
                db.execute(f"PRAGMA user_version = {number + 1}")

    def _recover_interrupted(self) -> None:
        """A reply still marked 'streaming' at open time was cut off by a crash."""
        with self._tx() as db:
            db.execute("UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'")

    @property
    def schema_version(self) -> int:
        """The database's ``PRAGMA user_version``."""
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def trace(self, callback: Callable[[str], object] | None) -> None:
        """Call ``callback`` with the text of every SQL statement run from now on (None
        stops it): how tests count the reads a turn makes."""
        with self._lock:
            self._db.set_trace_callback(callback)

    def close(self) -> None:
        """Close the connection. Further calls fail."""
        with self._lock:
            self._db.close()

    # -- chats ---------------------------------------------------------------------------

    @staticmethod
    def _chat(row: sqlite3.Row | tuple) -> Chat:
        raw = row[5]
        # most chats keep no settings: skip the JSON parser for them (list_chats reads all)
        settings = json.loads(raw) if raw and raw != "{}" else {}
        return Chat(row[0], row[1], row[2], row[3], row[4], settings)

    _CHAT_COLS = "id, title, created_at, updated_at, model, settings_json"

    def create_chat(self, title: str = "New chat", model: str | None = None) -> Chat:
        """Create an empty chat."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO chats (title, created_at, updated_at, model) VALUES (?, ?, ?, ?)",
                (title, now, now, model),
            )
            chat_id = cur.lastrowid
        return Chat(int(chat_id or 0), title, now, now, model, {})

    def list_chats(self) -> list[Chat]:
        """All chats, most recently used first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._CHAT_COLS} FROM chats ORDER BY updated_at DESC, id DESC"
            ).fetchall()
        return [self._chat(r) for r in rows]

    def most_recent_chat(self) -> Chat | None:
        """The chat ``list_chats`` would put first (the one the app opens), or None: one row
        read, not every chat."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._CHAT_COLS} FROM chats ORDER BY updated_at DESC, id DESC LIMIT 1"
            ).fetchone()
        return self._chat(row) if row else None

    def get_chat(self, chat_id: int) -> Chat | None:
        """The chat with this id, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._CHAT_COLS} FROM chats WHERE id = ?", (chat_id,)
            ).fetchone()
        return self._chat(row) if row else None

    def find_chat(self, title: str) -> Chat | None:
        """The most recent chat with exactly this title, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._CHAT_COLS} FROM chats WHERE title = ? "
                "ORDER BY updated_at DESC, id DESC LIMIT 1",
                (title,),
            ).fetchone()
        return self._chat(row) if row else None

    def rename_chat(self, chat_id: int, title: str) -> None:
        """Give a chat a new title."""
        title = title.strip()
        if not title:
            raise ValueError("a chat title cannot be empty")
        with self._tx() as db:
            db.execute("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id))

    def set_chat_model(self, chat_id: int, model: str | None) -> None:
        """Remember which model the chat last used."""
        with self._tx() as db:
            db.execute("UPDATE chats SET model = ? WHERE id = ?", (model, chat_id))

    def update_chat_settings(self, chat_id: int, **values: Any) -> None:
        """Merge ``values`` into the chat's settings (tier, model options...)."""
        with self._tx() as db:
            row = db.execute("SELECT settings_json FROM chats WHERE id = ?", (chat_id,)).fetchone()
            if row is None:
                return
            merged = {**json.loads(row[0] or "{}"), **values}
            db.execute(
                "UPDATE chats SET settings_json = ? WHERE id = ?", (json.dumps(merged), chat_id)
            )

    def delete_chat(self, chat_id: int) -> None:
        """Delete a chat and all its messages."""
        with self._tx() as db:
            db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    # -- messages ------------------------------------------------------------------------

    _MSG_COLS = "id, chat_id, seq, role, content, status, created_at, meta_json"

    @staticmethod
    def _message(row: sqlite3.Row | tuple) -> Message:
        return Message(
            row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7] or "{}")
        )

    def add_message(
        self,
        chat_id: int,
        role: str,
        content: str,
        status: MessageStatus = "complete",
        meta: dict[str, Any] | None = None,
    ) -> Message:
        """Append a message to a chat (and mark the chat as used)."""
        now = time.time()
        meta = meta or {}
        with self._tx() as db:
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE chat_id = ?", (chat_id,)
            ).fetchone()[0]
            cur = db.execute(
                "INSERT INTO messages (chat_id, seq, role, content, status, created_at, meta_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (chat_id, seq, role, content, status, now, json.dumps(meta)),
            )
            db.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (now, chat_id))
            msg_id = cur.lastrowid
        return Message(int(msg_id or 0), chat_id, int(seq), role, content, status, now, meta)

    def update_message(
        self,
        message_id: int,
        content: str | None = None,
        status: MessageStatus | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Change a message's text, status or metadata (metadata is merged)."""
        with self._tx() as db:
            if content is not None:
                db.execute("UPDATE messages SET content = ? WHERE id = ?", (content, message_id))
            if status is not None:
                db.execute("UPDATE messages SET status = ? WHERE id = ?", (status, message_id))
            if meta:
                row = db.execute(
                    "SELECT meta_json FROM messages WHERE id = ?", (message_id,)
                ).fetchone()
                if row is not None:
                    merged = {**json.loads(row[0] or "{}"), **meta}
                    db.execute(
                        "UPDATE messages SET meta_json = ? WHERE id = ?",
                        (json.dumps(merged), message_id),
                    )

    def delete_message(self, message_id: int) -> None:
        """Remove one message (used by regenerate to replace the last reply)."""
        with self._tx() as db:
            db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def messages(self, chat_id: int) -> list[Message]:
        """A chat's messages in order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._MSG_COLS} FROM messages WHERE chat_id = ? ORDER BY seq",
                (chat_id,),
            ).fetchall()
        return [self._message(r) for r in rows]

    def get_message(self, message_id: int) -> Message | None:
        """One message by id, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._MSG_COLS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        return self._message(row) if row else None

    # -- compression: checkpoints, the active context, snapshots ------------------------

    _CP_COLS = (
        "id, chat_id, level, summary, tokens, first_message_id, last_message_id, "
        "message_count, created_at, fallback"
    )

    @staticmethod
    def _checkpoint(row: sqlite3.Row | tuple) -> Checkpoint:
        return Checkpoint(
            row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], bool(row[9])
        )

    def add_checkpoint(
        self,
        chat_id: int,
        level: int,
        summary: str,
        tokens: int,
        first_message_id: int,
        last_message_id: int,
        message_count: int,
        fallback: bool = False,
    ) -> Checkpoint:
        """Write a checkpoint (not yet active: ``set_active_context`` makes it so)."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO checkpoints (chat_id, level, summary, tokens, first_message_id, "
                "last_message_id, message_count, created_at, fallback) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chat_id,
                    level,
                    summary,
                    tokens,
                    first_message_id,
                    last_message_id,
                    message_count,
                    now,
                    int(fallback),
                ),
            )
            cp_id = int(cur.lastrowid or 0)
        return Checkpoint(
            cp_id,
            chat_id,
            level,
            summary,
            tokens,
            first_message_id,
            last_message_id,
            message_count,
            now,
            fallback,
        )

    def _checkpoints_by_id(self, chat_id: int, ids: list[int]) -> list[Checkpoint]:
        if not ids:
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._CP_COLS} FROM checkpoints WHERE chat_id = ? AND id IN "
                f"({','.join('?' * len(ids))})",
                (chat_id, *ids),
            ).fetchall()
        found = {r[0]: self._checkpoint(r) for r in rows}
        return [found[i] for i in ids if i in found]

    def checkpoints(self, chat_id: int) -> list[Checkpoint]:
        """The chat's ACTIVE checkpoints, oldest first."""
        return list(self.active_context(chat_id).checkpoints)

    def all_checkpoints(self, chat_id: int) -> list[Checkpoint]:
        """Every checkpoint ever written for the chat (active or not), oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._CP_COLS} FROM checkpoints WHERE chat_id = ? ORDER BY id",
                (chat_id,),
            ).fetchall()
        return [self._checkpoint(r) for r in rows]

    def active_context(self, chat_id: int) -> ActiveContext:
        """The checkpoints and kept window the engine sees for the chat."""
        with self._lock:
            row = self._db.execute(
                "SELECT checkpoint_ids, kept_from_message_id FROM active_context WHERE chat_id = ?",
                (chat_id,),
            ).fetchone()
        if row is None:
            return ActiveContext()
        ids = [int(i) for i in json.loads(row[0] or "[]")]
        return ActiveContext(tuple(self._checkpoints_by_id(chat_id, ids)), row[1])

    def set_active_context(
        self, chat_id: int, checkpoint_ids: tuple[int, ...] | list[int], kept_from: int | None
    ) -> None:
        """Make ``checkpoint_ids`` (oldest first) and ``kept_from`` the chat's active context."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO active_context (chat_id, checkpoint_ids, kept_from_message_id) "
                "VALUES (?, ?, ?) ON CONFLICT(chat_id) DO UPDATE SET "
                "checkpoint_ids = excluded.checkpoint_ids, "
                "kept_from_message_id = excluded.kept_from_message_id",
                (chat_id, json.dumps(list(checkpoint_ids)), kept_from),
            )

    _SNAP_COLS = "id, chat_id, created_at, reason, checkpoint_ids, kept_from_message_id"

    @staticmethod
    def _snapshot(row: sqlite3.Row | tuple) -> Snapshot:
        ids = tuple(int(i) for i in json.loads(row[4] or "[]"))
        return Snapshot(row[0], row[1], row[2], row[3], len(ids), row[5], ids)

    def add_snapshot(self, chat_id: int, reason: str, keep: int = 5) -> Snapshot:
        """Save the chat's active context now; only the newest ``keep`` snapshots stay."""
        active = self.active_context(chat_id)
        now = time.time()
        ids = json.dumps(list(active.checkpoint_ids))
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO snapshots (chat_id, created_at, reason, checkpoint_ids, "
                "kept_from_message_id) VALUES (?, ?, ?, ?, ?)",
                (chat_id, now, reason, ids, active.kept_from_message_id),
            )
            snap_id = int(cur.lastrowid or 0)
            db.execute(
                "DELETE FROM snapshots WHERE chat_id = ? AND id NOT IN "
                "(SELECT id FROM snapshots WHERE chat_id = ? ORDER BY id DESC LIMIT ?)",
                (chat_id, chat_id, max(1, keep)),
            )
        return Snapshot(
            snap_id,
            chat_id,
            now,
            reason,
            len(active.checkpoint_ids),
            active.kept_from_message_id,
            active.checkpoint_ids,
        )

    def snapshots(self, chat_id: int) -> list[Snapshot]:
        """The chat's snapshots, newest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._SNAP_COLS} FROM snapshots WHERE chat_id = ? ORDER BY id DESC",
                (chat_id,),
            ).fetchall()
        return [self._snapshot(r) for r in rows]

    def get_snapshot(self, snapshot_id: int) -> Snapshot | None:
        """One snapshot by id, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._SNAP_COLS} FROM snapshots WHERE id = ?", (snapshot_id,)
            ).fetchone()
        return self._snapshot(row) if row else None

    def delete_snapshot(self, snapshot_id: int) -> None:
        """Forget one snapshot (undo consumes the one it restored)."""
        with self._tx() as db:
            db.execute("DELETE FROM snapshots WHERE id = ?", (snapshot_id,))
