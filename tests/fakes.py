"""A fake engine for tests that are about something else (UI layout, key flow, the store).

It implements the ``Backend`` protocol without a model: replies are scripted text streamed
word by word, with an optional delay per word so cancel paths can be exercised. Its
signatures are checked against the protocol (``tests/unit/test_backend_conformance.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ollm_tui.core.gguf_info import GGUFInfo
from ollm_tui.core.tokens import ExactCodec
from ollm_tui.engine.base import (
    Backend,
    CancelToken,
    ChatMessage,
    Delta,
    Done,
    EngineError,
    GenerationError,
    GenParams,
    KvKey,
    LoadOptions,
    ModelInfo,
    ModelLoadError,
    StreamEvent,
)


class FakeCodec(ExactCodec):
    """A ``PromptCodec`` whose counts equal ``FakeEngine.count_prompt_tokens``: each message
    costs its words plus 4 (so the app's token accounting can be tested without a model)."""

    fingerprint = "fake-words"
    specials = ("<m>",)

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        return "".join(f"<m>{m['role']}\n{m['content']}</m>" for m in messages)

    def count(self, text: str) -> int:
        if "<m>" not in text:  # plain text (a summary): its words, as the engine counts them
            return len(text.split())
        total = 0
        for segment in text.split("<m>")[1:]:
            _, _, content = segment.partition("\n")
            total += len(content.removesuffix("</m>").split()) + 4
        return total

    def bos_tokens(self, text: str) -> int:
        return 0


class FakeEngine:
    """Streams ``reply`` (or an echo of the last user message) one word at a time."""

    def __init__(
        self,
        reply: str | None = None,
        delay_s: float = 0.0,
        load_delay_s: float = 0.0,
        fail_load: str | None = None,
    ) -> None:
        self.reply = reply
        self.delay_s = delay_s
        self.load_delay_s = load_delay_s
        self.fail_load = fail_load
        self._info: ModelInfo | None = None
        self.prompts: list[list[ChatMessage]] = []
        self.closed = 0

    @property
    def info(self) -> ModelInfo | None:
        return self._info

    @property
    def gguf(self) -> GGUFInfo | None:
        return None  # no model file to read

    @property
    def context_source(self) -> str:
        return ""

    @property
    def last_failure(self) -> EngineError | None:
        return None

    @property
    def remote_active(self) -> bool:
        return False

    def load(
        self, path: Path, options: LoadOptions, cancel: CancelToken | None = None
    ) -> ModelInfo:
        time.sleep(self.load_delay_s)
        if self.fail_load:
            raise ModelLoadError(self.fail_load)
        self._info = ModelInfo(
            name=Path(path).stem,
            path=Path(path),
            n_ctx=options.n_ctx,
            n_ctx_train=8192,
            chat_format="gguf template",
        )
        return self._info

    def close(self) -> None:
        self.closed += 1
        self._info = None

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(len(m["content"].split()) + 4 for m in messages)

    def counting_codec(self, shared: bool = False) -> FakeCodec:
        if self._info is None:
            raise ModelLoadError("no model is loaded")
        return FakeCodec()

    def tokenize(self, text: str) -> list[int] | None:
        return list(range(len(text.split())))  # one token per word, like FakeCodec.count

    def kv_key(self) -> KvKey | None:
        return None  # no KV state to save

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], tuple[str, ...]]:
        if self._info is None:
            raise GenerationError("no model is loaded")
        return list(range(self.count_prompt_tokens(messages))), ()

    def cached_tokens(self) -> list[int]:
        return []

    def save_seq_state(self) -> tuple[list[int], Any]:
        return [], b""

    def restore_seq_state(self, tokens: Sequence[int], data: bytes | bytearray) -> bool:
        return False

    def stream(
        self, messages: Sequence[ChatMessage], params: GenParams, cancel: CancelToken
    ) -> Iterator[StreamEvent]:
        self.prompts.append(list(messages))
        text = self.reply if self.reply is not None else f"You said: {messages[-1]['content']}"
        words = text.split(" ")
        start = time.perf_counter()
        sent = 0
        reason = "stop"
        for i, word in enumerate(words):
            if cancel.cancelled:
                reason = "cancelled"
                break
            if self.delay_s:
                time.sleep(self.delay_s)
            yield Delta(word if i == 0 else " " + word)
            sent += 1
        total = time.perf_counter() - start
        yield Done(
            prompt_tokens=self.count_prompt_tokens(messages),
            completion_tokens=sent,
            ttft_s=self.delay_s,
            tokens_per_s=sent / total if total else 0.0,
            total_s=total,
            finish_reason=reason,  # type: ignore[arg-type]
        )


_: type[Backend] = FakeEngine  # mypy checks that the fake satisfies the protocol
