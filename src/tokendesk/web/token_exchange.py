"""``POST /oauth/token``: OAuth 2.0 Token Exchange (RFC 8693) for workloads.

A workload sends the JWT its platform gave it (or a Tokendesk API key) and names a
connection; it gets the connection's access token back. The request is a form
(RFC 8693 §2.1); the answer is RFC 8693 §2.2.1's JSON, and every error RFC 6749 §5.2's
``{"error", "error_description"}``, never Tokendesk's own error shape.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tokendesk.domain.tokens import TokenKind
from tokendesk.errors import (
    AuthenticationRequired,
    ConnectionNotFound,
    NotInvited,
    PermissionDenied,
    ProviderError,
    TokendeskError,
    TokenUnavailable,
    ValidationError,
    WorkloadKeysUnavailable,
)
from tokendesk.tokens.workload import TOKEN_TYPE_ACCESS, ExchangeRequest
from tokendesk.web.deps import get_tokendesk

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_SINGLE = ("grant_type", "subject_token", "subject_token_type", "resource", "audience",
           "scope", "requested_token_type", "token_kind")

router = APIRouter(prefix="/oauth", include_in_schema=False)


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    """An RFC 6749 §5.2 error answer."""
    return JSONResponse({"error": error, "error_description": description}, status,
                        headers=NO_STORE)


@router.post("/token")
async def token(request: Request) -> JSONResponse:
    """RFC 8693 §2: exchange a workload's token for a connection's access token."""
    if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        return oauth_error("invalid_request", "Send the request as a form "
                           "(application/x-www-form-urlencoded), RFC 8693 §2.1.")
    form = await request.form()
    params: dict[str, str] = {}
    for name in _SINGLE:
        values = [v for v in form.getlist(name) if isinstance(v, str)]
        if len(values) > 1:  # RFC 6749 §3.2: parameters must not be included more than once
            return oauth_error("invalid_request", f"The parameter {name} is repeated.")
        if values:
            params[name] = values[0]
    if "grant_type" not in params:
        return oauth_error("invalid_request", "The parameter grant_type is missing.")
    if params["grant_type"] != GRANT_TYPE:
        return oauth_error("unsupported_grant_type",
                           f"This endpoint supports only the grant type {GRANT_TYPE}.")
    for needed in ("subject_token", "subject_token_type"):
        if not params.get(needed):
            return oauth_error("invalid_request", f"The parameter {needed} is missing.")
    kind = params.get("token_kind", "shared")
    if kind not in ("shared", "user"):
        return oauth_error("invalid_request", "token_kind is shared or user.")
    exchange = ExchangeRequest(
        subject_token=params["subject_token"],
        subject_token_type=params["subject_token_type"],
        resource=params.get("resource"), audience=params.get("audience"),
        scope=params.get("scope"), requested_token_type=params.get("requested_token_type"),
        kind=TokenKind(kind))
    td = get_tokendesk(request)
    try:
        handout = await run_in_threadpool(td.workload_identity.exchange, exchange)
    except TokendeskError as exc:
        return _refusal(exc)
    body: dict[str, object] = {
        "access_token": handout.access_token.reveal(),
        "issued_token_type": TOKEN_TYPE_ACCESS,
        "token_type": handout.token_type,
    }
    if handout.expires_at is not None:
        left = (handout.expires_at - td.clock()).total_seconds()
        body["expires_in"] = max(0, math.floor(left))
    if handout.scope:
        body["scope"] = handout.scope
    return JSONResponse(body, headers=NO_STORE)


def _refusal(exc: TokendeskError) -> JSONResponse:
    """The RFC 6749 §5.2 / RFC 8693 §2.2.2 error for a refusal."""
    if isinstance(exc, ValidationError):
        error = "invalid_scope" if exc.field == "scope" else "invalid_request"
        return oauth_error(error, exc.message)
    if isinstance(exc, AuthenticationRequired | WorkloadKeysUnavailable):
        # The subject token is invalid, or cannot be verified (RFC 8693 §2.2.2).
        return oauth_error("invalid_grant", exc.message)
    if isinstance(exc, ConnectionNotFound | NotInvited):
        return oauth_error("invalid_target", exc.message)
    if isinstance(exc, PermissionDenied):
        return oauth_error("unauthorized_client", exc.message)
    if isinstance(exc, TokenUnavailable):
        return oauth_error("invalid_target", exc.message)
    if isinstance(exc, ProviderError):
        return oauth_error("temporarily_unavailable", exc.message, 503)
    return oauth_error("server_error", exc.message, exc.status if exc.status >= 500 else 500)
