"""The bots' token handout as a lean Starlette route.

``GET /api/v1/connections/{name}/token`` is asked before every call a bot makes, so it skips
FastAPI's per-request dependency tree and model validation: a cached handout is answered on
the event loop after one database read; anything else (first request, refresh due, errors)
runs the full use case in the thread pool. The FastAPI route of the same path stays for the
OpenAPI document and shares :func:`token_body`.
"""

from __future__ import annotations

import json
import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tokendesk.domain.tokens import Handout, TokenKind
from tokendesk.errors import TokendeskError, ValidationError
from tokendesk.web.deps import get_principal, get_tokendesk
from tokendesk.web.errors import error_response, unexpected_error_response

TOKEN_PATH = "/api/v1/connections/{name}/token"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def token_body(handout: Handout) -> bytes:
    """The JSON wire format of a handout (the SDK reads exactly this)."""
    return json.dumps(
        {
            "access_token": handout.access_token.reveal(),
            "token_type": handout.token_type,
            "expires_at": handout.expires_at.isoformat() if handout.expires_at else None,
            "scope": handout.scope,
            "connection": handout.connection,
            "kind": handout.kind.value,
            "provider_fields": handout.extra,
        }
    ).encode()


def token_response(handout: Handout) -> Response:
    return Response(token_body(handout), media_type="application/json", headers=NO_STORE)


async def lean_handout(request: Request) -> Response:
    """The route's endpoint: the handout of ``request.path_params["name"]``."""
    return await handout_response(request, request.path_params["name"])


async def handout_response(request: Request, name: str) -> Response:
    """Hand out a token of connection ``name`` to the caller of ``request``."""
    td = get_tokendesk(request)
    try:
        kind = _kind(request.query_params.get("token_type", "shared"))
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and key.strip():
            found = td.hot.cached(key.strip(), name, kind)
            if found is None:
                found = await run_in_threadpool(td.hot.handout, key.strip(), name, kind)
            handout = found
        else:  # a console session: the full way, with its CSRF and session checks
            principal = await run_in_threadpool(get_principal, request)
            handout = await run_in_threadpool(td.tokens.handout, principal, name, kind)
    except TokendeskError as exc:
        return error_response(exc)
    except Exception as exc:  # never a stack trace or an exception text in an answer
        return unexpected_error_response(request, exc)
    return token_response(handout)


def _kind(value: str) -> TokenKind:
    try:
        return TokenKind(value)
    except ValueError:
        raise ValidationError("token_type is 'shared' or 'user'.", field="token_type") from None


route = Route(TOKEN_PATH, lean_handout, methods=["GET"], name="token_handout")
_TOKEN_PATH_RE = re.compile(r"^/api/v1/connections/(?P<name>[^/]+)/token$")


class HandoutShortcut:
    """ASGI middleware answering token handouts before FastAPI's exception middleware,
    router and dependency machinery, which cost more than a cached handout itself. It sits
    inside the security-headers and metrics middleware, so those still apply; every other
    request passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _TOKEN_PATH_RE.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # for the request metrics' route label
        response = await handout_response(Request(scope, receive), match["name"])
        await response(scope, receive, send)
