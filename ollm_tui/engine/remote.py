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

Token counts (``remote_tokens``): exact through the server's tokenize endpoint when the chat
template is known, else the calibrated estimate; ``counting_codec`` says which.

llama-cpp-python's server stops a streaming reply whenever another request arrives (its
``interrupt_requests``), so this engine never sends two requests at once: one lock covers
a stream and every tokenize call.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if "httpx" not in sys.modules:
    # httpx imports its command-line tool when it is imported, and that pulls in rich, click
    # and pygments where they are installed. The engine layer never imports rich (the layer
    # rule, tests/unit/test_layers.py) and never needs that tool: let the import skip it.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx  # noqa: E402

from ollm_tui.engine.base import (
    CancelToken,
    ChatMessage,
    ContextOverflowError,
    Delta,
    Done,
    EngineError,
    GenerationError,
    GenParams,
    LoadOptions,
    ModelInfo,
    ModelLoadError,
    StreamEvent,
)
from ollm_tui.engine.servers import (
    ServerConfig,
    display_name,
    find_server,
    parse_remote_path,
    remote_path,
)

log = logging.getLogger("ollm.remote")

POLL_S = 0.1
"""How often a waiting stream checks for a cancel."""

ERROR_TEXT_LIMIT = 300
"""Longest piece of a server's error message quoted to the user."""


# -- errors -----------------------------------------------------------------------------


class RemoteError(EngineError):
    """Something went wrong talking to a server (the message names the server)."""


class ServerUnreachable(RemoteError, GenerationError):
    """The server refused the connection, could not be resolved, or did not accept in time."""


class ServerTimeout(RemoteError, GenerationError):
    """The server accepted the request but sent nothing for longer than the read timeout."""


class ServerHTTPError(RemoteError, GenerationError):
    """The server answered with an HTTP error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ServerContextOverflow(ServerHTTPError, ContextOverflowError):
    """The server says the prompt does not fit its context window."""


class StreamCut(RemoteError, GenerationError):
    """The stream ended (or the connection closed) before the reply was finished."""


class MalformedEvent(RemoteError, GenerationError):
    """The server sent an event that is not the JSON an OpenAI-compatible stream has."""


class RemoteLoadError(RemoteError, ModelLoadError):
    """The server model cannot be used: server unreachable, unknown model, bad answer."""


# -- HTTP plumbing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: to connect, for the first byte and between chunks, for short calls."""

    connect: float = 5.0
    read: float = 60.0
    short: float = 3.0
    """Probes, model lists and tokenize calls (a dead server must not hold up the picker)."""


def _headers(server: ServerConfig) -> dict[str, str]:
    key = server.key()
    return {"Authorization": f"Bearer {key}"} if key else {}


def _client(server: ServerConfig, timeouts: Timeouts, read: float | None = None) -> httpx.Client:
    read = timeouts.short if read is None else read
    timeout = httpx.Timeout(connect=timeouts.connect, read=read, write=read, pool=timeouts.connect)
    return httpx.Client(base_url=server.url, headers=_headers(server), timeout=timeout)


def server_message(response: httpx.Response) -> str:
    """The server's own error text from an error response (OpenAI, FastAPI or plain)."""
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        body = None
    text = ""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            text = str(err.get("message") or err)
        elif err:
            text = str(err)
        else:
            text = str(body.get("detail") or body.get("message") or "")
    if not text:
        try:
            text = response.text.strip()
        except httpx.ResponseNotRead:
            text = ""
    text = " ".join(text.split())
    if len(text) > ERROR_TEXT_LIMIT:
        text = text[:ERROR_TEXT_LIMIT] + "…"
    return text or response.reason_phrase or "no message"


def http_error(server: ServerConfig, response: httpx.Response) -> ServerHTTPError:
    """The error for an HTTP error status, with the server's message."""
    message = server_message(response)
    text = f"server {server.name} answered HTTP {response.status_code}: {message}"
    lowered = message.lower()
    if response.status_code in (400, 413) and (
        "context" in lowered and ("exceed" in lowered or "length" in lowered or "window" in lowered)
    ):
        return ServerContextOverflow(text, response.status_code)
    if response.status_code in (401, 403):
        text += " (check the server's api_key or api_key_env)"
    return ServerHTTPError(text, response.status_code)


def transport_error(server: ServerConfig, exc: httpx.HTTPError, timeouts: Timeouts) -> RemoteError:
    """The error for a failed exchange (never includes headers, so never a key)."""
    where = f"server {server.name} ({server.url})"
    if isinstance(exc, httpx.ConnectTimeout):
        return ServerUnreachable(f"{where} did not accept a connection within {timeouts.connect:g} s")
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or "connection failed"
        if "refused" in reason.lower():
            reason = "connection refused (is it running?)"
        return ServerUnreachable(f"cannot reach {where}: {reason}")
    if isinstance(exc, httpx.TimeoutException):
        return ServerTimeout(f"{where} sent nothing for {timeouts.read:g} s (timed out)")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return StreamCut(f"{where} closed the connection before the reply ended")
    return RemoteError(f"{where}: {type(exc).__name__}: {exc}")


def get_json(
    server: ServerConfig, path: str, timeouts: Timeouts, body: Any = None, long: bool = False
) -> Any | None:
    """``GET`` (or ``POST`` with ``body``) a JSON endpoint; None on 404/405 (not offered).

    Short calls wait ``timeouts.short``; ``long`` ones (a completion) ``timeouts.read``.
    Raises ``RemoteError`` when the server cannot be reached or answers another error.
    """
    try:
        with _client(server, timeouts, timeouts.read if long else None) as client:
            response = client.post(path, json=body) if body is not None else client.get(path)
    except httpx.HTTPError as exc:
        raise transport_error(server, exc, timeouts) from None
    if response.status_code in (404, 405, 501):
        return None
    if response.status_code >= 400:
        raise http_error(server, response)
    try:
        return response.json()
    except ValueError:
        raise RemoteError(f"server {server.name}: {path} did not answer JSON") from None


def list_models(server: ServerConfig, timeouts: Timeouts) -> list[dict[str, Any]]:
    """The ``/v1/models`` entries of ``server`` (only the configured ``models`` if any).

    Raises ``RemoteError``.
    """
    data = get_json(server, "/v1/models", timeouts)
    if data is None:
        raise RemoteError(f"server {server.name} has no /v1/models: is it OpenAI-compatible?")
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise RemoteError(f"server {server.name}: /v1/models answered an unexpected shape")
    models = [e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]
    if server.models:
        by_id = {e["id"]: e for e in models}
        return [by_id.get(m, {"id": m}) for m in server.models]
    return models


# -- the context window ---------------------------------------------------------------


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def probe_context(
    server: ServerConfig, model: str, entry: dict[str, Any], timeouts: Timeouts
) -> tuple[int | None, str, dict[str, Any] | None]:
    """The server's context window for ``model``, where it came from, and ``/props``.

    vLLM lists ``max_model_len``; llama.cpp's server has ``/props``
    (``default_generation_settings.n_ctx``); Ollama has ``/api/show`` (``num_ctx`` in the
    parameters, else ``<arch>.context_length``). (None, "") when the server does not say.
    """
    n = _positive_int(entry.get("max_model_len"))
    if n:
        return n, "max_model_len in /v1/models", None
    props = get_json(server, "/props", timeouts)
    if isinstance(props, dict):
        settings = props.get("default_generation_settings")
        n = _positive_int(settings.get("n_ctx")) if isinstance(settings, dict) else None
        n = n or _positive_int(props.get("n_ctx"))
        if n:
            return n, "/props", props
    else:
        props = None
    show = get_json(server, "/api/show", timeouts, {"model": model})
    if isinstance(show, dict):
        for line in str(show.get("parameters") or "").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "num_ctx" and parts[1].isdigit():
                return int(parts[1]), "num_ctx in /api/show", props
        info = show.get("model_info")
        if isinstance(info, dict):
            for key, value in info.items():
                if key.endswith(".context_length") and _positive_int(value):
                    return int(value), "context_length in /api/show", props
    return None, "", props


# -- the engine -----------------------------------------------------------------------


@dataclass
class _Exchange:
    """One streaming request as the reader thread and the stream share it."""

    lines: queue.Queue[tuple[str, Any]]
    response: httpx.Response | None = None
    aborted: bool = False

    def abort(self) -> None:
        """Stop the exchange now: shut the socket down (wakes a blocked read, tells the
        server the client is gone)."""
        self.aborted = True
        response = self.response
        if response is None:
            return
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class RemoteEngine:
    """A model on one of the configured servers. Safe to call from several threads: one
    lock covers each request (see the module's note on interrupted streams)."""

    gguf = None
    """No GGUF header here: the tier picker reads this (the model's file is on the server)."""

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
        self._codec: Any = None

    @property
    def info(self) -> ModelInfo | None:
        """The model in use, or None."""
        return self._info

    def load(self, path: Path, options: LoadOptions, cancel: CancelToken | None = None) -> ModelInfo:
        """Check the server has the model and learn its context window. Raises ``RemoteLoadError``."""
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
            model, server.name, server.url, n_ctx, source, seconds,
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

    def counting_codec(self, shared: bool = False) -> Any:
        """The ``PromptCodec`` counting this model's prompts: exact through the server's
        tokenizer when that is verified to match, else the calibrated estimate
        (``codec.exact`` says which). ``shared`` is accepted for the ``Backend`` callers'
        sake; the codec is always this engine's own."""
        from ollm_tui.engine.remote_tokens import make_codec

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

    def request_json(self, path: str, body: Any, long: bool = False) -> Any | None:
        """POST ``body`` to ``path`` on the server in use, under the engine's lock
        (``long``: wait the read timeout, for a completion)."""
        server, _ = self._require()
        with self._lock:
            return get_json(server, path, self.timeouts, body, long)

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
        exchange = _Exchange(queue.Queue())
        reader = threading.Thread(
            target=self._read, args=(server, body, exchange), name="ollm-remote-reader", daemon=True
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
        prompt = _positive_int(usage.get("prompt_tokens"))
        if prompt is None:
            try:
                prompt = self.count_prompt_tokens(messages)
            except EngineError:
                prompt = 0
        completion = _positive_int(usage.get("completion_tokens")) or chunks
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

    def _read(self, server: ServerConfig, body: dict[str, Any], exchange: _Exchange) -> None:
        """The reader thread: send the request, queue each line, then ``end`` or ``error``."""
        put = exchange.lines.put
        try:
            with _client(server, self.timeouts, read=self.timeouts.read) as client:
                with client.stream("POST", "/v1/chat/completions", json=body) as response:
                    exchange.response = response
                    if exchange.aborted:
                        return
                    if response.status_code >= 400:
                        response.read()
                        put(("error", http_error(server, response)))
                        return
                    for line in response.iter_lines():
                        put(("line", line))
                        if exchange.aborted:
                            return
            put(("end", None))
        except httpx.HTTPError as exc:
            if not exchange.aborted:
                put(("error", transport_error(server, exc, self.timeouts)))
        except Exception as exc:  # noqa: BLE001 - reported on the stream's thread
            if not exchange.aborted:
                put(("error", RemoteError(f"server {server.name}: {type(exc).__name__}: {exc}")))


class GenerationErrorFromServer(RemoteError, GenerationError):
    """The server reported an error inside the stream."""


class SSEParser:
    """Server-sent events: ``data:`` lines joined per event (events end at a blank line);
    comments (``:``), ``event:``, ``id:`` and ``retry:`` lines are ignored."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> list[str]:
        """The events completed by ``line`` (a line without its newline)."""
        if line == "":
            return self._flush()
        if line.startswith(":"):
            return []
        field_name, _, value = line.partition(":")
        if field_name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
            # most servers send one data line per event: hand it over at once
            if self._data[-1] == "[DONE]" or len(self._data) == 1 and _complete_json(self._data[0]):
                return self._flush()
        return []

    def finish(self) -> list[str]:
        """Whatever event the stream ended in the middle of."""
        return self._flush()

    def _flush(self) -> list[str]:
        if not self._data:
            return []
        data, self._data = "\n".join(self._data), []
        return [data]


def _complete_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
