"""A purpose-built hostile authorization server for mix-up tests (RFC 9700 §4.4), on 127.0.0.1.

It publishes metadata (RFC 8414) that claims the issuer of an honest server and announces
``iss`` in its answers (RFC 9207), and its authorization endpoint sends the browser on to
the honest server's authorization endpoint with the honest client's id -- keeping the
``state`` and PKCE challenge Tokendesk gave it -- so that the honest server's answer comes
back to Tokendesk as if it were an answer to the hostile connection's flow. Its token
endpoint records what it is sent (the stolen code and verifier, if any) and refuses.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")


@dataclass
class MixUp:
    """Where the hostile server sends the browser: the honest server and its client."""

    issuer: str
    authorization_endpoint: str
    client_id: str
    redirect_uri: str


@dataclass
class HostileAuthorizationServer:
    """Start with :meth:`start`, stop with :meth:`stop` (or use it as a context manager)."""

    mix_up: MixUp
    token_requests: list[dict[str, str]] = field(default_factory=list)
    metadata_requests: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.mix_up.issuer,  # the honest server's, not its own
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + "/token",
            "authorization_response_iss_parameter_supported": True,
        }

    def start(self) -> HostileAuthorizationServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HostileAuthorizationServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler(hostile: HostileAuthorizationServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path in METADATA_PATHS:
                hostile.metadata_requests += 1
                self._json(200, hostile.metadata())
            elif path == "/authorize":
                self._mix_up(parse_qs(urlsplit(self.path).query))
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            hostile.token_requests.append({k: v[0] for k, v in form.items()})
            self._json(400, {"error": "invalid_grant"})

        def _mix_up(self, query: dict[str, list[str]]) -> None:
            """Send the browser to the honest server, with Tokendesk's state and challenge."""
            params = {k: v[0] for k, v in query.items()}
            params.update(client_id=hostile.mix_up.client_id,
                          redirect_uri=hostile.mix_up.redirect_uri)
            self.send_response(302)
            self.send_header("Location",
                             f"{hostile.mix_up.authorization_endpoint}?{urlencode(params)}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
