"""Per-chat KV state files: a chat's KV cache saved after each reply, restored on return.

Prefilling a long history again is the slow part of coming back to a chat (1,800 tokens:
about 7.6 s on the starter model here, restoring them about 30 ms). So after each reply
the engine's sequence state (``llama_state_seq_get_data``, not ``save_state``, which also
copies the logits) is written with the token list it holds, one file per chat and *key*:
the model's fingerprint, the context size, the chat format and the KV layout. Before a
chat's next prompt the file is read back when it covers more of the prompt than the live
KV cache does (:class:`ChatKvCache`).

File layout (little-endian), written atomically (a temporary file, then ``os.replace``)::

    magic    8 bytes   b"OLLMKVS\\0"
    version  u32       FORMAT_VERSION
    hlen     u32       length of the header
    header   hlen bytes of JSON: key fields, chat id, token count, payload length, CRC-32s
    tokens   4 × n_tokens bytes (int32)
    payload  the state bytes

Nothing is loaded blindly: a file whose magic, version, header, key, size or checksums do
not match is deleted and logged. The folder is kept under a byte cap, least recently used
files evicted first (use refreshes a file's modification time). Never pickle.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
import time
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ollm_tui.engine.base import Backend, KvKey

__all__ = [
    "ChatKvCache",
    "KvKey",
    "KvReport",
    "KvStateStore",
    "StoredState",
    "common_prefix",
    "model_fingerprint",
    "text_hash",
]

log = logging.getLogger("ollm.kv_state")

MAGIC = b"OLLMKVS\0"
FORMAT_VERSION = 1
SUFFIX = ".kvstate"
_PREFIX = struct.Struct("<8sII")
_MAX_HEADER = 64 * 1024


def model_fingerprint(path: Path, chunk: int = 1 << 20) -> str:
    """A cheap fingerprint of a model file: its size and a hash of its first and last MiB."""
    h = hashlib.blake2b(digest_size=12)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        h.update(str(size).encode())
        h.update(f.read(chunk))
        if size > chunk:
            f.seek(max(chunk, size - chunk))
            h.update(f.read(chunk))
    return h.hexdigest()


def text_hash(*parts: str) -> str:
    """A short hash of some text (for the template field of a key)."""
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class StoredState:
    """A state file whose header and token list checked out (the payload is read later)."""

    path: Path
    chat_id: int
    tokens: list[int]
    payload_offset: int
    payload_len: int
    payload_crc: int


class KvStateStore:
    """The ``kv/`` folder of the data dir: one state file per (chat, key), under a byte cap."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        """The cap on the folder's total size; 0 turns saving off."""

    # -- names ---------------------------------------------------------------------------

    def path_for(self, chat_id: int, key: KvKey) -> Path:
        """Where the state of ``chat_id`` under ``key`` lives."""
        return self.root / f"chat-{chat_id}-{key.digest()}{SUFFIX}"

    def files(self) -> list[Path]:
        """The state files, least recently used first."""
        try:
            found = [p for p in self.root.iterdir() if p.suffix == SUFFIX and p.is_file()]
        except FileNotFoundError:
            return []
        return sorted(found, key=_mtime)

    def total_bytes(self) -> int:
        """What the state files take on disk."""
        return sum(_size(p) for p in self.files())

    # -- writing -------------------------------------------------------------------------

    def save(self, chat_id: int, key: KvKey, tokens: Sequence[int], payload: Any) -> Path | None:
        """Write a chat's state (``payload`` is any bytes-like object), then evict down to
        the cap. Returns the file, or None when saving is off, too big or failed (logged)."""
        view = memoryview(payload).cast("B")
        ids = array("i", tokens)
        if ids.itemsize != 4:  # pragma: no cover - every supported platform has 4-byte int
            raise RuntimeError("int is not 4 bytes here")
        header = {
            "key": asdict(key),
            "chat_id": chat_id,
            "n_tokens": len(ids),
            "payload_len": view.nbytes,
            "payload_crc32": zlib.crc32(view),
            "tokens_crc32": zlib.crc32(ids.tobytes()),
            "saved_at": time.time(),
        }
        head = json.dumps(header, sort_keys=True).encode()
        size = _PREFIX.size + len(head) + 4 * len(ids) + view.nbytes
        if self.max_bytes <= 0:
            return None
        if size > self.max_bytes:
            log.info("KV state of chat %d (%d bytes) is over the cap; not saved", chat_id, size)
            return None
        path = self.path_for(chat_id, key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(head)))
                f.write(head)
                f.write(ids.tobytes())
                f.write(view)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not save the KV state of chat %d to %s: %s", chat_id, path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return None
        self.evict(keep=path)
        return path

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Delete least recently used files until the folder is within the cap (``keep``
        last of all). Returns the files deleted."""
        files = self.files()
        total = sum(_size(p) for p in files)
        gone: list[Path] = []
        for path in [p for p in files if p != keep] + ([keep] if keep in files else []):
            if total <= self.max_bytes:
                break
            total -= _size(path)
            path.unlink(missing_ok=True)
            gone.append(path)
            log.info("evicted KV state %s (cap %d bytes)", path.name, self.max_bytes)
        return gone

    def forget_chat(self, chat_id: int) -> None:
        """Delete every state file of a chat (the chat was deleted)."""
        for path in self.files():
            if path.name.startswith(f"chat-{chat_id}-"):
                path.unlink(missing_ok=True)

    def clear(self) -> None:
        """Delete every state file (and temporary files left by a crash)."""
        for path in self.files():
            path.unlink(missing_ok=True)
        if self.root.is_dir():
            for path in self.root.glob(f".*{SUFFIX}.*.tmp"):
                path.unlink(missing_ok=True)

    # -- reading -------------------------------------------------------------------------

    def discard(self, path: Path, reason: str) -> None:
        """Delete a state file that cannot be used, and say why in the log."""
        log.warning("discarded KV state %s: %s", path, reason)
        path.unlink(missing_ok=True)

    def peek(self, chat_id: int, key: KvKey) -> StoredState | None:
        """The saved state of ``chat_id`` under ``key`` with its token list, checked (the
        payload's checksum is checked by :meth:`read_payload`). None when there is none;
        a broken or mismatched file is discarded."""
        path = self.path_for(chat_id, key)
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                state = self._read_head(f, path, size, chat_id, key)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("could not read KV state %s: %s", path, exc)
            return None
        return state

    def _read_head(
        self, f: Any, path: Path, size: int, chat_id: int, key: KvKey
    ) -> StoredState | None:
        prefix = f.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            return self._bad(path, "truncated before the header")
        magic, version, hlen = _PREFIX.unpack(prefix)
        if magic != MAGIC:
            return self._bad(path, "not a KV state file")
        if version != FORMAT_VERSION:
            return self._bad(path, f"format version {version}, expected {FORMAT_VERSION}")
        if hlen > _MAX_HEADER:
            return self._bad(path, "header too long")
        try:
            header = json.loads(f.read(hlen))
            n_tokens = int(header["n_tokens"])
            payload_len = int(header["payload_len"])
            payload_crc = int(header["payload_crc32"])
            tokens_crc = int(header["tokens_crc32"])
            stored_key, stored_chat = header["key"], header["chat_id"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return self._bad(path, "unreadable header")
        if stored_key != asdict(key) or stored_chat != chat_id:
            return self._bad(path, "saved for another chat, model, context size or format")
        offset = _PREFIX.size + hlen + 4 * n_tokens
        if n_tokens < 0 or payload_len <= 0 or size != offset + payload_len:
            return self._bad(path, f"{size} bytes, expected {offset + payload_len} (truncated?)")
        raw = f.read(4 * n_tokens)
        if zlib.crc32(raw) != tokens_crc:
            return self._bad(path, "token list checksum mismatch")
        ids = array("i")
        ids.frombytes(raw)
        return StoredState(path, chat_id, ids.tolist(), offset, payload_len, payload_crc)

    def _bad(self, path: Path, reason: str) -> None:
        self.discard(path, reason)

    def read_payload(self, state: StoredState) -> bytearray | None:
        """The state bytes of a peeked file, checked against its checksum (None, and the
        file discarded, when they do not match)."""
        buf = bytearray(state.payload_len)
        try:
            with open(state.path, "rb") as f:
                f.seek(state.payload_offset)
                got = f.readinto(buf)
        except OSError as exc:
            log.warning("could not read KV state %s: %s", state.path, exc)
            return None
        if got != state.payload_len:
            return self._bad(state.path, "truncated payload")
        if zlib.crc32(buf) != state.payload_crc:
            return self._bad(state.path, "payload checksum mismatch")
        self.touch(state.path)
        return buf

    @staticmethod
    def touch(path: Path) -> None:
        """Mark a file as just used (eviction goes by modification time)."""
        try:
            os.utime(path)
        except OSError:
            pass


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading items ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@dataclass
class KvReport:
    """What the last ``before_turn`` did (for logs, tests and the benchmark)."""

    action: str = "none"
    """"live" (the engine already held this chat), "restored", "cold" (nothing usable)."""
    tokens: int = 0
    """Prompt tokens covered without prefill."""
    seconds: float = 0.0


class ChatKvCache:
    """Save a chat's KV state after its replies and restore it before its next prompt.

    Remembers which chat the engine's KV cache holds, so coming back to the chat whose
    cache is live costs nothing. Every method runs in the generation worker (the engine is
    not thread-safe) and never raises: a failure only means a normal prefill.
    """

    def __init__(self, store: KvStateStore, engine: Backend) -> None:
        self.store = store
        self.engine = engine
        self.live_chat: int | None = None
        """The chat whose state the engine's KV cache held after its last save or restore."""
        self._live_tokens = 0
        self.last = KvReport()

    def _state_engine(self) -> Backend | None:
        """The engine when its KV state can be saved now: a model is loaded, the engine
        keeps a KV state in this process (``kv_key()`` is not None) and saving is on."""
        engine = self.engine
        if engine.info is None or self.store.max_bytes <= 0 or engine.kv_key() is None:
            return None
        return engine

    def before_turn(self, chat_id: int, messages: Any) -> KvReport:
        """Restore ``chat_id``'s saved state when it covers more of the prompt for
        ``messages`` than the live KV cache does."""
        start = time.perf_counter()
        self.last = report = KvReport()
        engine = self._state_engine()
        if engine is None:
            return report
        try:
            key = engine.kv_key()
            tokens = engine.prompt_tokens(messages)[0]
            live = common_prefix(engine.cached_tokens(), tokens)
            if self.live_chat == chat_id and live >= min(self._live_tokens, len(tokens)) - 1:
                report.action, report.tokens = "live", live
                return report
            state = self.store.peek(chat_id, key) if key is not None else None
            usable = common_prefix(state.tokens, tokens) if state is not None else 0
            if state is None or usable <= live:
                report.action, report.tokens = "cold" if live == 0 else "live", live
                return report
            data = self.store.read_payload(state)
            if data is None:
                report.action = "cold"
                return report
            if not engine.restore_seq_state(state.tokens, data):
                self.store.discard(state.path, "llama.cpp refused the state")
                report.action = "cold"
                return report
            self.live_chat, self._live_tokens = chat_id, len(state.tokens)
            report.action, report.tokens = "restored", usable
            return report
        except Exception:
            log.warning("KV state restore failed; prefilling normally", exc_info=True)
            report.action = "cold"
            return report
        finally:
            report.seconds = time.perf_counter() - start
            log.info(
                "KV before turn of chat %d: %s, %d tokens, %.3fs",
                chat_id,
                report.action,
                report.tokens,
                report.seconds,
            )

    def after_turn(self, chat_id: int) -> Path | None:
        """Save the engine's state as ``chat_id``'s (after a reply)."""
        engine = self._state_engine()
        if engine is None:
            return None
        try:
            key = engine.kv_key()
            tokens, data = engine.save_seq_state()
            self.live_chat, self._live_tokens = chat_id, len(tokens)
            if key is None or not tokens:
                return None
            return self.store.save(chat_id, key, tokens, data)
        except Exception:
            log.warning("KV state save failed", exc_info=True)
            return None

    def forget_chat(self, chat_id: int) -> None:
        """Drop a deleted chat's files."""
        if self.live_chat == chat_id:
            self.live_chat = None
        try:
            self.store.forget_chat(chat_id)
        except OSError:
            log.warning("could not delete the KV states of chat %d", chat_id, exc_info=True)
