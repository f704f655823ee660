"""A fake engine for tests that are about something else (UI layout, key flow, the store).

It implements the ``Backend`` protocol without a model: replies are scripted text streamed
word by word, with an optional delay per word so cancel paths can be exercised.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from ollm_tui.engine.base import (
    CancelToken,
    ChatMessage,
    Delta,
    Done,
    GenParams,
    LoadOptions,
    ModelInfo,
    ModelLoadError,
    StreamEvent,
)


class FakeCodec:
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

    def load(self, path: Path, options: LoadOptions, cancel: CancelToken | None = None) -> ModelInfo:
        time.sleep(self.load_delay_s)
        if self.fail_load:
            raise ModelLoadError(self.fail_load)
        self._info = ModelInfo(
            name=Path(path).stem, path=Path(path), n_ctx=options.n_ctx, n_ctx_train=8192,
            chat_format="gguf template",
        )
        return self._info

    def close(self) -> None:
        self.closed += 1
        self._info = None

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(len(m["content"].split()) + 4 for m in messages)

    def tokenize(self, text: str) -> list[int]:
        """One token per word (as ``FakeCodec.count`` counts plain text)."""
        return list(range(len(text.split())))

    def counting_codec(self) -> FakeCodec:
        if self._info is None:
            raise ModelLoadError("no model is loaded")
        return FakeCodec()

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
            prompt_tokens=self.count_prompt_tokens(messages), completion_tokens=sent,
            ttft_s=self.delay_s, tokens_per_s=sent / total if total else 0.0, total_s=total,
            finish_reason=reason,  # type: ignore[arg-type]
        )
