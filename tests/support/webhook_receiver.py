"""A webhook receiver on 127.0.0.1 that verifies every delivery with the Standard Webhooks
library, as a customer's receiver would, and keeps what it received."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from support.tokendesk_server import free_port


@dataclass(frozen=True)
class Received:
    id: str
    type: str
    payload: dict[str, Any]
    body: bytes


class WebhookReceiver:
    """``url`` takes deliveries while up; ``stop()`` takes it down (connections refused),
    ``start()`` brings it back on the same port. Set ``secret`` before deliveries come."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/tokendesk"
        self.secret: str | None = None
        self.received: list[Received] = []
        self.refused: list[str] = []  # why a delivery did not verify
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver._take(body, {k: v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _take(self, body: bytes, headers: dict[str, str]) -> int:
        assert self.secret is not None, "set the receiver's secret first"
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            with self._lock:
                self.refused.append(str(exc))
            return 400
        with self._lock:
            self.received.append(
                Received(headers.get("webhook-id", ""), payload["type"], payload, body)
            )
        return 204

    def types(self) -> list[str]:
        with self._lock:
            return [r.type for r in self.received]

    def ids(self) -> list[str]:
        with self._lock:
            return [r.id for r in self.received]

    def bodies(self) -> str:
        with self._lock:
            return "\n".join(json.dumps(r.payload) for r in self.received)
