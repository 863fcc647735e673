"""A commercial provider's documented behaviour on 127.0.0.1, in front of the real server.

Tokendesk's end-to-end tests cannot reach Salesforce, Entra or Google. An emulator stands in
for one of them: it listens on 127.0.0.1, answers at *the provider's own paths*
(``/<tenant>/oauth2/v2.0/token``, ``/services/oauth2/token`` ...) and keeps the real work --
clients, consent, codes, refresh-token rotation and reuse detection, revocation -- with the
real authorization server of ``tests/e2e/authorization_server`` (oidc-provider), adding only
the provider's quirks as a thin layer: parameters it requires, fields it leaves out or adds,
its error bodies. Each quirk cites the documentation page that describes it.

A provider emulator subclasses :class:`ProviderEmulator` and lists its routes; a handler
takes the request as ``httpx.Request`` and answers an ``httpx.Response``, usually after
:meth:`ProviderEmulator.forward`-ing it (rewritten) to the real server. Connections are made
from the catalog's defaults, placeholders filled as a user would, with the provider's origin
swapped for the emulator's by :meth:`ProviderEmulator.at` (paths are kept as documented) and
the client registered by :meth:`ProviderEmulator.register_client`
(``support.emulators.journey.connection_from_catalog``).
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from support.authorization_server import AuthorizationServer, Client

Handler = Callable[[httpx.Request], httpx.Response]
FORWARD_TIMEOUT_S = 30.0
# Not copied between the two hops: the emulator sets its own framing.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length",
              "content-encoding", "host"}


def form_of(request: httpx.Request) -> dict[str, str]:
    """The request's urlencoded form (the token, revocation and introspection requests)."""
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


def query_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))


def json_response(status: int, body: Mapping[str, Any],
                  headers: Mapping[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=dict(body), headers={"Cache-Control": "no-store",
                                                             **(headers or {})})


def error_page(title: str, error: str, description: str, *, status: int = 400) -> httpx.Response:
    """The page a provider shows for an authorization request it refuses (an error of the
    request itself is shown to the user, not sent to the redirect URI), in the shape the
    tests' consent walker reads: ``#error`` (its ``data-error``) and ``#error-description``."""
    body = (f"<!doctype html><title>{html.escape(title)}</title>"
            f'<p id="error" data-error="{html.escape(error)}">{html.escape(error)}</p>'
            f'<p id="error-description">{html.escape(description)}</p>')
    return httpx.Response(status, text=body, headers={"Content-Type": "text/html; charset=utf-8"})


class ProviderEmulator:
    """One provider's documented endpoints on 127.0.0.1, backed by ``server``.

    Subclasses set ``documentation`` (the pages the behaviour comes from) and return their
    routes from :meth:`routes`: ``{("POST", "/services/oauth2/token"): handler}``. A path may
    hold ``*`` for one path segment (a tenant, an instance name).
    """

    documentation: ClassVar[tuple[str, ...]] = ()
    # The provider's documented origin(s), replaced by the emulator's in catalog URLs.
    origins: ClassVar[tuple[str, ...]] = ()

    def __init__(self, server: AuthorizationServer) -> None:
        self.server = server
        self.requests: list[httpx.Request] = []
        self._upstream = httpx.Client(base_url=server.issuer, timeout=FORWARD_TIMEOUT_S,
                                      trust_env=False, follow_redirects=False)
        self._routes = self.routes()
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        # The tokens it saw issued: the client of each, and every refresh token in order.
        self.issued_refresh_tokens: list[str] = []
        self._client_of_token: dict[str, str] = {}
        self._issued_lock = threading.Lock()

    def routes(self) -> dict[tuple[str, str], Handler]:
        raise NotImplementedError

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> ProviderEmulator:
        emulator = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = httpx.Request(self.command, f"{emulator.url}{self.path}",
                                        headers=list(self.headers.items()), content=body)
                response = emulator.handle(request)
                content = response.read()
                self.send_response(response.status_code)
                for name, value in response.headers.multi_items():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the requests are kept in emulator.requests

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        self._upstream.close()

    def __enter__(self) -> ProviderEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- routing ------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self._route(request.method, request.url.path)
        if handler is None:
            return json_response(404, {"error": "not_found",
                                       "error_description": f"no {request.url.path} here"})
        return handler(request)

    def _route(self, method: str, path: str) -> Handler | None:
        parts = path.strip("/").split("/")
        for (want_method, pattern), handler in self._routes.items():
            want = pattern.strip("/").split("/")
            if want_method == method and len(want) == len(parts) and all(
                w in ("*", p) for w, p in zip(want, parts, strict=True)
            ):
                return handler
        return None

    def requests_to(self, path_end: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith(path_end)]

    # -- the provider's client registrations ----------------------------------------------

    def register_client(self, client: Client) -> object:
        """Register ``client`` at the provider, as an admin does in its console (its redirect
        URIs the callback URLs authorized there); a provider whose registrations differ from
        the real server's clients overrides this."""
        return self.server.register_client(client)

    # -- the real server behind ----------------------------------------------------------

    def forward(self, request: httpx.Request, path: str, *,
                form: Mapping[str, str] | None = None) -> httpx.Response:
        """``request`` sent on to the real server's ``path`` (its form replaced by ``form``
        when given), the answer read whole."""
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        content = urlencode(dict(form)).encode() if form is not None else request.content
        answer = self._upstream.request(request.method, path, headers=headers,
                                        content=content, params=request.url.query.decode())
        answer.read()
        return answer

    # -- the tokens it saw issued ------------------------------------------------------------

    def remember_issued(self, client_id: str, body: Mapping[str, Any]) -> None:
        """Keep which client the tokens of ``body`` (a token answer) were issued to, and its
        refresh token at the end of ``issued_refresh_tokens``."""
        with self._issued_lock:
            for name in ("access_token", "refresh_token"):
                if isinstance(body.get(name), str):
                    self._client_of_token[body[name]] = client_id
            if isinstance(body.get("refresh_token"), str):
                self.issued_refresh_tokens.append(body["refresh_token"])

    def client_of(self, token: str) -> Client | None:
        """The client a token the emulator saw issued belongs to; None for one it never saw."""
        with self._issued_lock:
            client_id = self._client_of_token.get(token)
        return None if client_id is None else self.server.client(client_id)

    def introspection(self, token: str) -> dict[str, Any] | None:
        """The real server's RFC 7662 answer about ``token``, asked with the credentials of
        the client it was issued to (empty when refused); None for a token the emulator never
        saw issued."""
        client = self.client_of(token)
        if client is None:
            return None
        auth, extra = client.auth()
        answer = httpx.post(self.server.introspection_endpoint, auth=auth, trust_env=False,
                            timeout=FORWARD_TIMEOUT_S, data={"token": token, **extra})
        return self.body_of(answer) if answer.status_code == 200 else {}

    def redirect_to_authorization(self, params: Mapping[str, str]) -> httpx.Response:
        """The browser sent on to the real server's authorization endpoint with ``params``:
        login, consent and the code come from there."""
        target = f"{self.server.authorization_endpoint}?{urlencode(dict(params))}"
        return httpx.Response(302, headers={"Location": target})

    @staticmethod
    def body_of(response: httpx.Response) -> dict[str, Any]:
        try:
            body = json.loads(response.content or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    # -- catalog URLs --------------------------------------------------------------------

    def at(self, url: str) -> str:
        """A catalog URL (placeholders already filled) with the provider's origin replaced
        by the emulator's; the path, as documented, stays."""
        parts = urlsplit(url)
        mine = urlsplit(self.url)
        return urlunsplit((mine.scheme, mine.netloc, parts.path, parts.query, parts.fragment))
