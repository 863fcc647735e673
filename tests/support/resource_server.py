"""A tiny API (a resource server) on 127.0.0.1 that accepts a bearer token only when the real
authorization server's introspection endpoint (RFC 7662) says it is active.

It records the headers of every request (never keeps a body), so a test can see exactly what
reached the API. Paths:

- ``GET /whoami``: who the token belongs to (``sub``, ``client_id``, ``scope``), the query;
- ``GET /bytes?n=N``: N bytes, streamed in 64 KiB pieces, never held whole;
- ``POST|PUT /count``: reads the body as it arrives (Content-Length or chunked), answers its
  size and SHA-256;
- ``GET /redirect``: a 302 to ``/whoami`` that also sets a cookie.

``refuse_all`` makes it answer 401 to every token (an API that keeps refusing).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from support.authorization_server import AuthorizationServer, Client

PIECE_BYTES = 64 * 1024
SHUTDOWN_POLL_S = 0.05


@dataclass(frozen=True)
class Arrival:
    """One request as it reached the API: method, path with query, headers (lower-case)."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class ResourceServer:
    url: str
    oauth: AuthorizationServer
    client: Client
    arrivals: list[Arrival] = field(default_factory=list)
    refuse_all: bool = False

    def introspect(self, token: str) -> dict[str, Any]:
        """The authorization server's word on ``token`` (RFC 7662 §2.2)."""
        auth, fields = self.client.auth()
        answer = httpx.post(self.oauth.introspection_endpoint, data={"token": token, **fields},
                            auth=auth, timeout=10, trust_env=False)
        answer.raise_for_status()
        return dict(answer.json())


@contextmanager
def resource_server(oauth: AuthorizationServer, client: Client) -> Iterator[ResourceServer]:
    """The API on a free port of 127.0.0.1, introspecting with ``client``'s credentials."""
    api = ResourceServer(url="", oauth=oauth, client=client)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            api.arrivals.append(Arrival(self.command, self.path,
                                        {k.lower(): v for k, v in self.headers.items()}))
            parts = urlsplit(self.path)
            token = self.headers.get("authorization", "").removeprefix("Bearer ")
            claims = api.introspect(token) if token else {"active": False}
            if api.refuse_all or not claims.get("active"):
                self._drain()
                self._json(401, {"error": "invalid_token"},
                           {"www-authenticate": 'Bearer error="invalid_token"'})
            elif parts.path == "/whoami":
                self._json(200, {"sub": claims.get("sub"), "client_id": claims.get("client_id"),
                                 "scope": claims.get("scope"), "query": parts.query})
            elif parts.path == "/bytes":
                self._bytes(int(parse_qs(parts.query)["n"][0]))
            elif parts.path == "/count":
                digest, size = hashlib.sha256(), 0
                for piece in self._body():
                    digest.update(piece)
                    size += len(piece)
                self._json(200, {"received": size, "sha256": digest.hexdigest()})
            elif parts.path == "/redirect":
                self._json(302, {}, {"location": "/whoami", "set-cookie": "api_session=s1; Path=/"})
            else:
                self._json(404, {"error": "not_found"})

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def _body(self) -> Iterator[bytes]:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                    yield self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()  # the empty trailer section
                return
            left = int(self.headers.get("content-length") or 0)
            while left:
                piece = self.rfile.read(min(left, PIECE_BYTES))
                left -= len(piece)
                yield piece

        def _drain(self) -> None:
            for _ in self._body():
                pass

        def _bytes(self, n: int) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/octet-stream")
            self.send_header("content-length", str(n))
            self.end_headers()
            piece = b"x" * PIECE_BYTES
            while n:
                self.wfile.write(piece[:min(n, PIECE_BYTES)])
                n -= min(n, PIECE_BYTES)

        def _json(self, status: int, doc: dict[str, Any],
                  headers: dict[str, str] | None = None) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
