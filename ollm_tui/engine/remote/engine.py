"""A model on an OpenAI-compatible server (llama.cpp's server, llama-cpp-python's, Ollama, vLLM).

``RemoteEngine`` implements the same ``Backend`` protocol as the in-process engine, so the
session, the context meter and compression work unchanged. It speaks HTTP through httpx:

- ``load`` probes the server: ``GET /v1/models`` (the model must be listed), then the context
  window from ``max_model_len`` in that list (vLLM), ``/props`` (llama.cpp's server) or
  ``/api/show`` (Ollama), else the server's ``context`` setting, else the profile/setting.
- ``stream`` posts ``/v1/chat/completions`` with ``stream: true`` and reads the server-sent
  events (``data: {...}`` lines, ``data: [DONE]``). The HTTP exchange runs in a reader thread
  that hands lines over a queue, so a cancel is honoured within a tenth of a second even while
  the server is silent: the socket is shut down, which also tells the server to stop.
- Every failure becomes a ``RemoteError`` with a clear text: refused or unreachable, a
  timeout (connect, first byte, or between chunks), an HTTP status with the server's own
  message, a stream that ends before the reply does, a malformed event.

Token counts (``engine.remote.tokens``): exact through the server's tokenize endpoint when the chat
template is known, else the calibrated estimate; ``counting_codec`` says which.

llama-cpp-python's server stops a streaming reply whenever another request arrives (its
``interrupt_requests``), so this engine never sends two requests at once: one lock covers
a stream and every tokenize call.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ollm_tui.core.gguf_info import GGUFInfo
from ollm_tui.core.token_estimate import chars_estimate
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
from ollm_tui.engine.remote.http import (
    Exchange,
    GenerationErrorFromServer,
    MalformedEvent,
    RemoteError,
    RemoteLoadError,
    ServerContextOverflow,
    ServerHTTPError,
    ServerTimeout,
    ServerUnreachable,
    SSEParser,
    StreamCut,
    Timeouts,
    get_json,
    list_models,
    positive_int,
    probe_context,
    read_stream,
)
from ollm_tui.engine.remote.tokens import ServerCodec, make_codec
from ollm_tui.settings.servers import (
    ServerConfig,
    display_name,
    find_server,
    parse_remote_path,
    remote_path,
)

__all__ = [
    "MalformedEvent",
    "RemoteEngine",
    "RemoteError",
    "RemoteLoadError",
    "SSEParser",
    "ServerContextOverflow",
    "ServerHTTPError",
    "ServerTimeout",
    "ServerUnreachable",
    "StreamCut",
    "Timeouts",
    "list_models",
]

log = logging.getLogger("ollm.remote")

POLL_S = 0.1
"""How often a waiting stream checks for a cancel."""


class RemoteEngine:
    """A model on one of the configured servers. Safe to call from several threads: one
    lock covers each request (see the module's note on interrupted streams)."""

    def __init__(self, servers: Sequence[ServerConfig], timeouts: Timeouts | None = None) -> None:
        self.servers = tuple(servers)
        self.timeouts = timeouts or Timeouts()
        self._lock = threading.RLock()
        self._info: ModelInfo | None = None
        self.server: ServerConfig | None = None
        self.model: str | None = None
        """The model id sent to the server."""
        self.context_source = ""
        """Where ``info.n_ctx`` came from (a server endpoint, the config, or the setting)."""
        self.props: dict[str, Any] | None = None
        self.last_failure: RemoteError | None = None
        """The error that ended the last reply (None when it ended well)."""
        self._codec: ServerCodec | None = None

    @property
    def info(self) -> ModelInfo | None:
        """The model in use, or None."""
        return self._info

    @property
    def gguf(self) -> GGUFInfo | None:
        """None: the model's file is on the server (the tier picker reads this)."""
        return None

    @property
    def remote_active(self) -> bool:
        """True: this engine's models are on servers."""
        return True

    def load(
        self, path: Path, options: LoadOptions, cancel: CancelToken | None = None
    ) -> ModelInfo:
        """Check the server has the model and learn its context window.

        Raises ``RemoteLoadError`` (unreachable, unknown model, a bad answer).
        """
        ref = parse_remote_path(path)
        if ref is None:
            raise ModelLoadError(f"{path} is not a server model")
        server = find_server(self.servers, ref[0])
        if server is None:
            names = ", ".join(s.name for s in self.servers) or "none"
            raise RemoteLoadError(f"no server is called {ref[0]!r} (configured: {names})")
        self.close()
        start = time.perf_counter()
        try:
            models = list_models(server, self.timeouts)
            ids = [m["id"] for m in models]
            model = ref[1] or (ids[0] if ids else "")
            if not model:
                raise RemoteLoadError(f"server {server.name} lists no models")
            if model not in ids:
                listed = ", ".join(ids) or "none"
                raise RemoteLoadError(
                    f"server {server.name} has no model {model!r} (it has: {listed})"
                )
            if cancel is not None and cancel.cancelled:
                raise RemoteLoadError("cancelled")
            entry = next(m for m in models if m["id"] == model)
            n_ctx, source, props = probe_context(server, model, entry, self.timeouts)
        except RemoteLoadError:
            raise
        except RemoteError as exc:
            raise RemoteLoadError(str(exc)) from None
        if n_ctx is None and server.context:
            n_ctx, source = server.context, f"the context setting of server {server.name}"
        if n_ctx is None:
            n_ctx, source = options.n_ctx, "ollm's context setting (the server does not say)"
        seconds = time.perf_counter() - start
        with self._lock:
            self.server, self.model, self.props = server, model, props
            self.context_source = source
            self._codec = None
            self._info = ModelInfo(
                name=display_name(server.name, model),
                path=remote_path(server.name, model),
                n_ctx=n_ctx,
                n_ctx_train=n_ctx,
                chat_format="server",
                load_seconds=seconds,
            )
        log.info(
            "using %s on server %s (%s): n_ctx=%d from %s, probed in %.2fs",
            model,
            server.name,
            server.shown_url,
            n_ctx,
            source,
            seconds,
        )
        return self._info

    def close(self) -> None:
        """Forget the model (nothing to free here). Safe to call twice."""
        with self._lock:
            self._info = None
            self.server = None
            self.model = None
            self._codec = None

    def _require(self) -> tuple[ServerConfig, str]:
        if self.server is None or self.model is None:
            raise GenerationError("no model is loaded")
        return self.server, self.model

    # -- tokens ---------------------------------------------------------------------------

    def counting_codec(self, shared: bool = False) -> ServerCodec:
        """The ``PromptCodec`` counting this model's prompts: exact through the server's
        tokenizer when that is verified to match, else the calibrated estimate
        (``codec.exact`` says which). ``shared`` is accepted for the ``Backend`` callers'
        sake; the codec is always this engine's own."""
        with self._lock:
            if self._codec is None:
                server, model = self._require()
                self._codec = make_codec(self, server, model)
            return self._codec

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Prompt tokens of ``messages`` (exact or estimated: see ``counting_codec``)."""
        codec = self.counting_codec()
        text = codec.render(messages)
        return codec.bos_tokens(text) + codec.count(text)

    def tokenize(self, text: str) -> list[int] | None:
        """None: token ids stay on the server (counts come from ``counting_codec``)."""
        return None

    # -- KV state: none here (the server keeps its own cache) --------------------------------

    def kv_key(self) -> KvKey | None:
        """None: there is no KV state in this process to save or restore."""
        return None

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], tuple[str, ...]]:
        """Not available: the server builds and tokenizes the prompt (``GenerationError``)."""
        raise GenerationError("a server model's prompt tokens are not visible here")

    def cached_tokens(self) -> list[int]:
        """Empty: the KV cache is on the server."""
        return []

    def save_seq_state(self) -> tuple[list[int], Any]:
        """Nothing to save: no tokens, no bytes."""
        return [], b""

    def restore_seq_state(self, tokens: Sequence[int], data: bytes | bytearray) -> bool:
        """False: a state cannot be loaded into a server."""
        return False

    def request_json(self, path: str, body: Any, long: bool = False) -> Any | None:
        """POST ``body`` to ``path`` on the server in use, under the engine's lock
        (``long``: wait the read timeout, for a completion)."""
        server, _ = self._require()
        with self._lock:
            try:
                return get_json(server, path, self.timeouts, body, long)
            except RemoteError as exc:  # e.g. counting before a reply: the server is gone
                self.last_failure = exc
                raise

    # -- generation -----------------------------------------------------------------------

    def stream(
        self, messages: Sequence[ChatMessage], params: GenParams, cancel: CancelToken
    ) -> Iterator[StreamEvent]:
        """Stream a reply: ``Delta`` events, then one ``Done``; ``RemoteError`` on failure."""
        server, model = self._require()
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        with self._lock:
            self.last_failure = None
            try:
                yield from self._stream(server, body, messages, cancel)
            except RemoteError as exc:
                self.last_failure = exc
                log.warning("reply from server %s failed: %s", server.name, exc)
                raise

    def _stream(
        self,
        server: ServerConfig,
        body: dict[str, Any],
        messages: Sequence[ChatMessage],
        cancel: CancelToken,
    ) -> Iterator[StreamEvent]:
        exchange = Exchange(queue.Queue())
        reader = threading.Thread(
            target=read_stream,
            args=(server, self.timeouts, body, exchange),
            name="ollm-remote-reader",
            daemon=True,
        )
        start = time.perf_counter()
        first: float | None = None
        chunks = 0
        usage: dict[str, Any] = {}
        finish: str | None = None
        parser = SSEParser()
        reader.start()
        try:
            while True:
                if cancel.cancelled:
                    exchange.abort()
                    finish = "cancelled"
                    break
                try:
                    kind, payload = exchange.lines.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                if kind == "error":
                    if finish is not None and isinstance(payload, StreamCut):
                        break  # closed after the reply had ended: nothing is missing
                    raise payload
                if kind == "end":
                    for data in parser.finish():
                        finish = self._event(server, data, usage, finish)
                    if finish is None:
                        raise StreamCut(
                            f"server {server.name} ended the stream before the reply was finished"
                        )
                    break
                ended = False
                for data in parser.feed(payload):
                    if data == "[DONE]":
                        ended = True
                        break
                    text, finish = self._delta(server, data, usage, finish)
                    if text:
                        chunks += 1
                        if first is None:
                            first = time.perf_counter()
                        yield Delta(text)
                if ended:
                    if finish is None:
                        raise StreamCut(
                            f"server {server.name} ended the reply early without saying why "
                            "(llama-cpp-python's server does this when another request arrives)"
                        )
                    break
        finally:
            exchange.abort()
        end = time.perf_counter()
        prompt = positive_int(usage.get("prompt_tokens"))
        codec = self._codec
        if prompt is not None and codec is not None:
            codec.observe(messages, prompt)  # an estimate learns from the server's figure
        if prompt is None:
            prompt = self._count_after(messages, cancelled=finish == "cancelled")
        completion = positive_int(usage.get("completion_tokens")) or chunks
        decode_s = end - first if first is not None else 0.0
        yield Done(
            prompt_tokens=prompt,
            completion_tokens=completion,
            ttft_s=(first - start) if first is not None else end - start,
            tokens_per_s=(completion - 1) / decode_s if completion > 1 and decode_s > 0 else 0.0,
            total_s=end - start,
            finish_reason=finish if finish in ("length", "cancelled") else "stop",  # type: ignore[arg-type]
            evaluated_prompt_tokens=prompt,
        )

    def _count_after(self, messages: Sequence[ChatMessage], cancelled: bool) -> int:
        """Prompt tokens when the server did not report them: counted as usual, except
        after a cancel, which must return at once (a rough estimate by characters: no
        request, not even loading tiktoken)."""
        if cancelled:
            return sum(chars_estimate(m["content"]) + 4 for m in messages)
        try:
            return self.count_prompt_tokens(messages)
        except EngineError:
            return 0

    def _event(
        self, server: ServerConfig, data: str, usage: dict[str, Any], finish: str | None
    ) -> str | None:
        """Handle an event left at the end of the stream (text in it is dropped only if
        the stream had already ended)."""
        if data == "[DONE]":
            return finish
        _, finish = self._delta(server, data, usage, finish)
        return finish

    def _delta(
        self, server: ServerConfig, data: str, usage: dict[str, Any], finish: str | None
    ) -> tuple[str, str | None]:
        """The reply text and finish reason in one ``data:`` event (raises MalformedEvent)."""
        try:
            event = json.loads(data)
        except ValueError:
            raise MalformedEvent(
                f"server {server.name} sent a malformed event (not JSON): {data[:80]!r}"
            ) from None
        if not isinstance(event, dict):
            raise MalformedEvent(f"server {server.name} sent a malformed event: {data[:80]!r}")
        if event.get("error"):
            err = event["error"]
            message = err.get("message") if isinstance(err, dict) else err
            raise GenerationErrorFromServer(f"server {server.name} reported an error: {message}")
        if isinstance(event.get("usage"), dict):
            usage.update(event["usage"])
        choices = event.get("choices", [])
        if not isinstance(choices, list):
            raise MalformedEvent(f"server {server.name} sent a malformed event: {data[:80]!r}")
        text = ""
        for choice in choices[:1]:
            if not isinstance(choice, dict):
                raise MalformedEvent(f"server {server.name} sent a malformed event: {data[:80]!r}")
            delta = choice.get("delta") or {}
            piece = delta.get("content") if isinstance(delta, dict) else None
            if piece is None and isinstance(choice.get("text"), str):
                piece = choice["text"]  # a completions-style chunk
            if piece is not None and not isinstance(piece, str):
                raise MalformedEvent(f"server {server.name} sent a malformed event: {data[:80]!r}")
            text = piece or ""
            if choice.get("finish_reason"):
                finish = str(choice["finish_reason"])
        return text, finish


_: type[Backend] = RemoteEngine  # mypy checks that the engine satisfies the protocol
