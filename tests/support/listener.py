"""A plain HTTP server on 127.0.0.1 that records every request it gets and answers each with a
canned (or computed) JSON answer: a stand-in provider, or a listener proving nothing reached it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

SHUTDOWN_POLL_S = 0.05


@dataclass(frozen=True)
class Seen:
    """One request as it arrived: method, path, headers (lower-case names) and body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(errors="replace")))

    def text(self) -> str:
        """Everything that arrived, as one string, to look for a secret in it."""
        heads = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.method} {self.path}\n{heads}\n\n{self.body.decode(errors='replace')}"


Answer = Callable[[Seen], tuple[int, dict[str, Any]]]


def ok(_: Seen) -> tuple[int, dict[str, Any]]:
    return 200, {}


@dataclass
class Listener:
    """Where it listens (``url``) and what it was sent (``requests``)."""

    url: str
    answer: Answer = ok
    requests: list[Seen] = field(default_factory=list)


@contextmanager
def listening(answer: Answer = ok) -> Iterator[Listener]:
    """A recording HTTP server on a free port of 127.0.0.1, stopped on leaving."""
    listener = Listener(url="", answer=answer)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            seen = Seen(self.command, self.path,
                        {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
            listener.requests.append(seen)
            status, doc = listener.answer(seen)
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    listener.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
