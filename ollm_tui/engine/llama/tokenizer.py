"""A model's tokenizer and chat format as a ``PromptCodec`` for exact token counts.

Counting runs beside generation: the app loads the model's vocabulary a second time
(``Llama(path, vocab_only=True)``: 0.2 s for SmolLM2, 0.7 s for Gemma, no weights), so a
count never waits for the engine's lock while a reply streams, and a count can be made
before any model is loaded. ``ollm -p`` shares the engine's own model instead
(``shared_codec``), since nothing runs beside it there.

The codec renders prompts and decides BOS exactly as ``LlamaEngine.prompt_tokens`` does,
so its counts equal the prompt tokens the engine reports.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import llama_cpp

from ollm_tui.core.chat_format import ChatFormat, ChatFormatError
from ollm_tui.core.gguf_info import GGUFError, read_gguf_info
from ollm_tui.core.profiles import ProfileSet
from ollm_tui.core.tokens import Message, locate_contents, split_prompt
from ollm_tui.engine.base import ModelLoadError
from ollm_tui.engine.llama.support import choose_format, install_llama_logging, token_text

log = logging.getLogger("ollm.tokens")

_SPECIAL_ATTRS = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
"""Control tokens: llama.cpp splits the text at them before running BPE/SPM
(``tokenizer_st_partition``). User-defined tokens are split at too, but some vocabularies
define overlapping ones (Gemma's ``\n`` and ``\n\n``), where a cut could fall inside a
longer match; those are left alone (fewer cuts, still exact)."""

_PROBE_TEXTS = ("ollmprobe0", "ollmprobe1", "ollmprobe2", "ollmprobe3", "ollmprobe4")

_FINGERPRINT_TEXT = (
    "The quick brown fox jumps over the lazy dog. 0123456789 ½ naïve café 東京 Привет "
    'مرحبا 🙂 def f(x):\n\treturn x**2  # comment\n<html></html> {"k": [1, 2.5e-3]}'
)

_VERIFY_MESSAGES: list[Message] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hello!  Two spaces, a tab\tand\nnew lines.\n"},
    {"role": "assistant", "content": " Leading space; `code` and ```py\nx = 1\n```"},
    {"role": "user", "content": "東京 café 🙂 — fine?"},
]


class CodecClosedError(RuntimeError):
    """Counting with a codec after ``close()`` (never touches the freed vocabulary)."""


class LlamaCodec:
    """Tokenizer + chat format of one GGUF model (thread-safe: calls are serialised)."""

    def __init__(
        self, llm: llama_cpp.Llama, fmt: ChatFormat, lock: Any = None, owned: bool = True
    ) -> None:
        self._llm = llm
        self._format = fmt
        self._lock = lock or threading.RLock()
        self._owned = owned
        self._closed = False
        self._bos_text = token_text(llm, llm.token_bos())
        self._add_bos = bool(llm._model.add_bos_token()) and llm.token_bos() >= 0
        self._fingerprint = self._make_fingerprint()
        self._specials = self._find_specials()
        if self._specials and not self._parts_add_up(_VERIFY_MESSAGES):
            log.warning("prompt parts do not add up for this tokenizer: counting whole prompts")
            self._specials = ()

    # -- PromptCodec ---------------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        """Hash of the vocabulary's identity and its behaviour on a fixed text."""
        return self._fingerprint

    @property
    def specials(self) -> tuple[str, ...]:
        """Control-token texts the chat format puts between messages."""
        return self._specials

    @property
    def exact(self) -> bool:
        """True: these are the model's own tokens."""
        return True

    @property
    def how(self) -> str:
        """Empty: exact counts by the model's tokenizer need no explanation."""
        return ""

    @property
    def format_name(self) -> str:
        """The chat format's name (as the engine reports it)."""
        return self._format.name

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text the engine feeds (raises ``ChatFormatError``)."""
        return self._format.render(messages).text

    def count(self, text: str) -> int:
        """Tokens of ``text`` (special tokens parsed, no BOS), like the engine's tokenize."""
        if not text:
            return 0
        with self._lock:
            if self._closed:  # a model switch closed it while a count was queued
                raise CodecClosedError("the tokenizer was closed (the model changed)")
            return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def bos_tokens(self, text: str) -> int:
        """1 when the engine adds BOS in front of ``text`` (the same rule as the engine)."""
        return int(self._add_bos and not (self._bos_text and text.startswith(self._bos_text)))

    def close(self) -> None:
        """Free the vocabulary (only when this codec loaded it)."""
        with self._lock:
            if self._owned and not self._closed:
                self._llm.close()
            self._closed = True

    # -- set-up --------------------------------------------------------------------------

    def _make_fingerprint(self) -> str:
        llm = self._llm
        with self._lock:
            n_vocab = llm.n_vocab()
            h = hashlib.blake2b(digest_size=12)
            h.update(
                f"{llm._model.vocab_type()}|{n_vocab}|{llm.token_bos()}|{llm.token_eos()}".encode()
            )
            h.update(f"|{self._add_bos}|".encode())
            ids = llm.tokenize(_FINGERPRINT_TEXT.encode("utf-8"), add_bos=False, special=True)
            h.update(",".join(map(str, ids)).encode())
            step = max(1, n_vocab // 512)
            for token in range(0, n_vocab, step):
                h.update(llm._model.token_get_text(token).encode("utf-8", "replace") + b"\0")
        return h.hexdigest()

    def _find_specials(self) -> tuple[str, ...]:
        """Control tokens that appear in the template's text between messages."""
        roles = ["system", "user", "assistant", "user", "assistant"]
        probe = [{"role": r, "content": t} for r, t in zip(roles, _PROBE_TEXTS)]
        try:
            text = self._format.render(probe).text
        except ChatFormatError:
            return ()
        found: set[str] = set()
        with self._lock:
            cursor = 0
            frames = []
            for marker in _PROBE_TEXTS:
                at = text.find(marker, cursor)
                if at < 0:
                    continue
                frames.append(text[cursor:at])
                cursor = at + len(marker)
            frames.append(text[cursor:])
            for frame in frames:
                if not frame:
                    continue
                for token in self._llm.tokenize(frame.encode("utf-8"), add_bos=False, special=True):
                    if self._llm._model.token_get_attr(token) & _SPECIAL_ATTRS:
                        piece = token_text(self._llm, token)
                        if piece.strip():
                            found.add(piece)
        return tuple(sorted(found, key=len, reverse=True))

    def _parts_add_up(self, messages: Sequence[Message]) -> bool:
        text = self.render(messages)
        spots = locate_contents(self.render, messages, text)
        spans = split_prompt(text, [m["content"] for m in messages], self._specials, spots)
        whole = self.count(text)
        return sum(self.count(text[s.start : s.end]) for s in spans) == whole


def _vocab_only(path: Path) -> llama_cpp.Llama:
    install_llama_logging()
    printed = io.StringIO()
    try:
        # verbose=False would dup2 the terminal's descriptors away (see engine/llama.py)
        with contextlib.redirect_stderr(printed):
            llm = llama_cpp.Llama(str(path), vocab_only=True, verbose=True)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelLoadError(f"cannot read the tokenizer of {path.name}: {exc}") from None
    finally:
        if printed.getvalue().strip():
            logging.getLogger("ollm.llama_cpp").info(printed.getvalue().strip())
    llm.verbose = False
    return llm


def load_codec(path: Path, profiles: ProfileSet, chat_format: str | None = None) -> LlamaCodec:
    """Load only the tokenizer of the model at ``path`` (no weights) with its chat format.

    ``profiles`` and ``chat_format`` must be what the engine was given, so prompts render
    the same. Raises ``ModelLoadError``.
    """
    path = Path(path).expanduser()
    try:
        gguf = read_gguf_info(path)
    except GGUFError as exc:
        raise ModelLoadError(f"{path.name}: {exc}") from None
    llm = _vocab_only(path)
    try:
        bos, eos = token_text(llm, llm.token_bos()), token_text(llm, llm.token_eos())
        fmt, _ = choose_format(gguf, profiles, chat_format, bos, eos)
        return LlamaCodec(llm, fmt)
    except ChatFormatError as exc:
        llm.close()
        raise ModelLoadError(str(exc)) from None
    except BaseException:
        llm.close()
        raise
