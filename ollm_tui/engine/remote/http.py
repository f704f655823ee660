"""HTTP for the remote engine: the error family, timeouts, JSON calls, probes, the stream reader.

Everything that touches httpx lives here; ``engine.remote`` builds the ``Backend`` on top.
Error texts name the server and quote its own message, never a header (so never a key).
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import sys
from dataclasses import dataclass
from typing import Any

if "httpx" not in sys.modules:
    # httpx imports its command-line tool when it is imported, and that pulls in rich, click
    # and pygments where they are installed. The engine layer never imports rich (the layer
    # rule, tests/unit/test_layers.py) and never needs that tool: let the import skip it.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx

from ollm_tui.engine.base import (
    ContextOverflowError,
    EngineError,
    GenerationError,
    ModelLoadError,
)
from ollm_tui.settings.servers import ServerConfig, Timeouts  # Timeouts: re-exported

log = logging.getLogger("ollm.remote")

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


class GenerationErrorFromServer(RemoteError, GenerationError):
    """The server reported an error inside the stream."""


# -- HTTP plumbing ----------------------------------------------------------------------


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
    where = f"server {server.name} ({server.shown_url})"
    if isinstance(exc, httpx.ConnectTimeout):
        return ServerUnreachable(
            f"{where} did not accept a connection within {timeouts.connect:g} s"
        )
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


def positive_int(value: object) -> int | None:
    """``value`` when it is a positive whole number, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def probe_context(
    server: ServerConfig, model: str, entry: dict[str, Any], timeouts: Timeouts
) -> tuple[int | None, str, dict[str, Any] | None]:
    """The server's context window for ``model``, where it came from, and ``/props``.

    vLLM lists ``max_model_len``; llama.cpp's server has ``/props``
    (``default_generation_settings.n_ctx``); Ollama has ``/api/show`` (``num_ctx`` in the
    parameters, else ``<arch>.context_length``). (None, "") when the server does not say.
    """
    n = positive_int(entry.get("max_model_len"))
    if n:
        return n, "max_model_len in /v1/models", None
    props = get_json(server, "/props", timeouts)
    if isinstance(props, dict):
        settings = props.get("default_generation_settings")
        n = positive_int(settings.get("n_ctx")) if isinstance(settings, dict) else None
        n = n or positive_int(props.get("n_ctx"))
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
                if key.endswith(".context_length") and positive_int(value):
                    return int(value), "context_length in /api/show", props
    return None, "", props


# -- the stream reader ------------------------------------------------------------------


@dataclass
class Exchange:
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


def read_stream(
    server: ServerConfig, timeouts: Timeouts, body: dict[str, Any], exchange: Exchange
) -> None:
    """Run in the reader thread: send the request, queue each line, then ``end`` or ``error``."""
    put = exchange.lines.put
    try:
        with (
            _client(server, timeouts, read=timeouts.read) as client,
            client.stream("POST", "/v1/chat/completions", json=body) as response,
        ):
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
            put(("error", transport_error(server, exc, timeouts)))
    except Exception as exc:  # noqa: BLE001 - reported on the stream's thread
        if not exchange.aborted:
            put(("error", RemoteError(f"server {server.name}: {type(exc).__name__}: {exc}")))


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
            self._data.append(value.removeprefix(" "))
            # most servers send one data line per event: hand it over at once
            if self._data[-1] == "[DONE]" or (len(self._data) == 1 and _complete_json(self._data[0])):
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
