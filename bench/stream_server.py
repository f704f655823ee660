"""The fake OpenAI-compatible server of the tests, in its own process, streaming a set reply.

    .venv/bin/python -m bench.stream_server PIECES_JSON RATE TIMES_JSON

Serves ``tests/fake_server.FakeServer`` on 127.0.0.1 with the pieces read from PIECES_JSON
(a JSON list of strings) at RATE pieces per second (0: as fast as it can), prints its URL on
one line, and rewrites TIMES_JSON with ``FakeServer.sent`` (each paced reply's first and
last piece, ``time.monotonic`` seconds, the same clock in every process on Linux) whenever
a reply ends. It runs until killed. A separate process, so that the server's pacing and the
benchmark's screen captures do not share one interpreter lock.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_server import FakeServer


def main(argv: list[str]) -> None:
    pieces_path, rate, times_path = Path(argv[0]), float(argv[1]), Path(argv[2])
    with FakeServer() as server:
        server.pieces = json.loads(pieces_path.read_text())
        server.rate = rate or None
        print(server.url, flush=True)
        written = 0
        while True:
            time.sleep(0.02)
            if len(server.sent) != written:
                written = len(server.sent)
                tmp = times_path.with_suffix(".tmp")
                tmp.write_text(json.dumps(server.sent))
                tmp.replace(times_path)


if __name__ == "__main__":
    main(sys.argv[1:])
