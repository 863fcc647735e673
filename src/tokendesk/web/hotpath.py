"""The bots' token handout, answered ahead of FastAPI's router: the hot path's one seam.

``GET /api/v1/connections/{name}/token`` with an API key is asked before every call a bot
makes, so :class:`HandoutFront` answers it as a pure ASGI application wrapped around the
FastAPI one by ``create_app`` (plain ASGI composition): no middleware chain, no router, no
dependency tree,
no model validation -- the security headers and the request metric are applied here
instead. A cached handout is answered on the event loop after one shared database read;
anything else (first request, refresh due, errors) runs the full use case in the thread
pool. Requests it does not recognise as a well-formed bot handout (a console session, a
malformed header or query) go to FastAPI's route of the same path, which also documents it
in the OpenAPI document. Both write :class:`~tokendesk.client.wire.TokenWire`, the one
definition of the answer's JSON shape, which the SDK reads back.
"""

from __future__ import annotations

import re
import time
from typing import NamedTuple
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokendesk.client.wire import TokenWire
from tokendesk.domain.tokens import Handout, TokenKind
from tokendesk.domain.workload import looks_like_jwt
from tokendesk.errors import TokendeskError
from tokendesk.metrics import Metrics
from tokendesk.tokens.handout_cache import HandoutCache
from tokendesk.web.console.security import add_security_headers
from tokendesk.web.errors import error_response, internal_error_response

TOKEN_PATH = "/api/v1/connections/{name}/token"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_TOKEN_PATH_RE = re.compile(r"^/api/v1/connections/(?P<name>[^/]+)/token$")


def token_wire(handout: Handout) -> TokenWire:
    """A handout as it travels: the token revealed, for the caller it was handed to."""
    return TokenWire(
        access_token=handout.access_token.reveal(),
        token_type=handout.token_type,
        expires_at=handout.expires_at,
        scope=handout.scope,
        connection=handout.connection,
        kind=handout.kind.value,
        provider_fields=handout.extra,
    )


def token_body(handout: Handout) -> bytes:
    """The answer's body: :class:`TokenWire` as JSON (the SDK reads exactly this)."""
    return token_wire(handout).to_json()


def token_response(handout: Handout) -> Response:
    return Response(token_body(handout), media_type="application/json", headers=NO_STORE)


class BotHandout(NamedTuple):
    api_key: str
    name: str
    kind: TokenKind


def bot_handout(scope: Scope) -> BotHandout | None:
    """The handout a request asks for with an API key; None for anything else."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return None
    match = _TOKEN_PATH_RE.match(scope["path"])
    if match is None:
        return None
    key = _bearer(scope["headers"])
    kind = _kind(scope["query_string"])
    if key is None or kind is None or looks_like_jwt(key):
        return None  # a workload's JWT: verified on FastAPI's route, never cached here
    return BotHandout(key, match["name"], kind)


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            key = key.strip()
            return key if scheme.lower() == "bearer" and key else None
    return None


_USUAL_QUERIES = {b"": TokenKind.SHARED, b"token_type=shared": TokenKind.SHARED,
                  b"token_type=user": TokenKind.USER}


def _kind(query: bytes) -> TokenKind | None:
    usual = _USUAL_QUERIES.get(query)
    if usual is not None:
        return usual
    values = [v for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
              if k == "token_type"]
    if not values:
        return TokenKind.SHARED
    try:
        return TokenKind(values[-1])  # the last one, as FastAPI reads a repeated parameter
    except ValueError:
        return None  # FastAPI's route answers with its validation error


class HandoutFront:
    """Outermost ASGI layer: bots' token handouts here, every other request to ``app``."""

    def __init__(self, app: ASGIApp, hot: HandoutCache, metrics: Metrics) -> None:
        self.app = app
        self.hot = hot
        self.metrics = metrics
        headers = [(b"content-type", b"application/json"),
                   *((k.lower().encode(), v.encode()) for k, v in NO_STORE.items())]
        self._headers = add_security_headers(headers, TOKEN_PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        asked = bot_handout(scope)
        if asked is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        try:
            try:
                hit = await self.hot.cached(*asked)
                if hit is not None:  # rendered once per cache entry, not on every request
                    body = hit.rendered(token_body)
                else:
                    body = token_body(await run_in_threadpool(self.hot.handout, *asked))
            except TokendeskError as exc:
                status = await self._answer(error_response(exc), scope, receive, send)
                return
            except Exception as exc:  # never a stack trace or an exception text in an answer
                await self._answer(internal_error_response("GET", TOKEN_PATH, exc),
                                   scope, receive, send)
                return
            await send({"type": "http.response.start", "status": 200, "headers": [
                *self._headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            status = 200
        finally:
            self.metrics.observe_request("GET", TOKEN_PATH, status,
                                         time.perf_counter() - started)

    @staticmethod
    async def _answer(response: Response, scope: Scope, receive: Receive, send: Send) -> int:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = add_security_headers(list(message["headers"]), TOKEN_PATH)
            await send(message)

        await response(scope, receive, send_with_headers)
        return response.status_code
