"""A small OpenAI-compatible server the tests control, for failures a real server rarely shows.

It runs stdlib ``http.server`` in a thread on 127.0.0.1. ``GET /v1/models`` lists one model;
``POST /v1/chat/completions`` streams a reply whose ending the test chooses (``mode``):

- ``ok``: every piece, a finish reason, ``[DONE]``;
- ``stall``: the first pieces, then silence (until the test ends);
- ``cut``: the first pieces, then the connection closes mid-chunked-body;
- ``malformed``: the first pieces, then an event that is not JSON;
- ``http500``: HTTP 500 with an OpenAI-style error body.
- ``late_cut``: every piece and a finish reason, then the connection closes before ``[DONE]``.

``rate`` (pieces per second, default: as fast as possible) paces the pieces, as a model would;
each paced reply's first and last piece times (``time.monotonic``) go to ``sent``.

Every request's headers are kept (``seen``) so tests can check what was sent.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "fake-model"
PIECES = ["Hello", " there", ", partial", " text"]
"""What the reply streams; failing modes send the first two before failing."""


def free_port() -> int:
    """A TCP port nothing listens on (for refused connections and servers to start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chunk(piece: str | None = None, finish: str | None = None) -> str:
    """One ``data:`` event of a chat completion stream."""
    delta = {"content": piece} if piece is not None else {}
    body = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


class FakeServer:
    """The server and its switches (``mode``); use as a context manager."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.routes: dict[str, object] = {}
        """Extra JSON answers by path (``/props``, ``/api/show``...); ``/v1/models`` too."""
        self.usage: dict[str, int] | None = None
        """A usage chunk sent before ``[DONE]`` in mode ``ok`` (``include_usage``)."""
        self.seen: list[dict[str, str]] = []
        self.pieces: list[str] = list(PIECES)
        """What a reply streams (a test may script its own, e.g. escape sequences)."""
        self.rate: float | None = None
        """Pieces per second (None: no pacing)."""
        self.sent: list[tuple[float, float, int]] = []
        """(first piece, last piece, pieces) per paced reply, ``time.monotonic`` seconds."""
        self.release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:  # keep test output quiet
                pass

            def _json(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_chunk(self, text: str) -> None:
                data = text.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _send_pieces(self, pieces: list[str]) -> None:
                rate = owner.rate
                start = time.monotonic()
                for i, piece in enumerate(pieces):
                    if rate:
                        ahead = start + i / rate - time.monotonic()
                        if ahead > 0:
                            time.sleep(ahead)
                    self._send_chunk(chunk(piece))
                if rate:
                    owner.sent.append((start, time.monotonic(), len(pieces)))

            def do_GET(self) -> None:
                owner.seen.append(dict(self.headers))
                if self.path in owner.routes:
                    self._json(200, owner.routes[self.path])
                elif self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
                else:
                    self._json(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                owner.seen.append(dict(self.headers))
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if self.path in owner.routes:
                    self._json(200, owner.routes[self.path])
                    return
                if self.path != "/v1/chat/completions":
                    self._json(404, {"detail": "Not Found"})
                    return
                mode = owner.mode
                if mode == "http500":
                    self._json(
                        500,
                        {
                            "error": {
                                "message": "model crashed: out of memory",
                                "type": "server_error",
                            }
                        },
                    )
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                pieces = owner.pieces if mode in ("ok", "late_cut") else owner.pieces[:2]
                self._send_pieces(pieces)
                if owner.usage is not None and mode == "ok":
                    self._send_chunk(
                        f"data: {json.dumps({'choices': [], 'usage': owner.usage})}\n\n"
                    )
                if mode == "late_cut":
                    self._send_chunk(chunk(None, "stop"))
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif mode == "ok":
                    self._send_chunk(chunk(None, "stop"))
                    self._send_chunk("data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                elif mode == "stall":
                    owner.release.wait(30)
                elif mode == "cut":
                    self.wfile.write(b'40\r\ndata: {"choices": [{"delta"')  # half a chunk
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif mode == "malformed":
                    self._send_chunk("data: {this is not json\n\n")
                    owner.release.wait(5)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
