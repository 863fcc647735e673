"""Tokens of a connection: the bots' handout, status, refresh, disconnect, consent and test."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from fastapi.responses import Response as FastAPIResponse
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictBool

from tokendesk.client.wire import TokenWire
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind
from tokendesk.tokens.consent_flow import Purpose
from tokendesk.tokens.importing import REFRESH_TOKEN_MAX, TokenImport
from tokendesk.tokens.states import TokenStates
from tokendesk.views.tokens import FlowLinkOut, TokenStatusOut, VerdictOut
from tokendesk.web.api.responses import ANSWERED_BY_EVERY_ROUTE, PROVIDER_FAILURES, error_responses
from tokendesk.web.deps import App, Caller, HandoutCaller
from tokendesk.web.hotpath import token_response

router = APIRouter(
    prefix="/connections/{name}",
    tags=["tokens"],
    responses=error_responses(*ANSWERED_BY_EVERY_ROUTE, *PROVIDER_FAILURES),
)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class AuthorizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token_type: Literal["shared", "user"] = "user"


class NotRevokedOut(BaseModel):
    """A token forgotten by Tokendesk that its provider could not be asked to revoke."""

    revoked_at_provider: Literal[False] = False
    message: str


class TestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    save_credentials: StrictBool = False


@router.get("/token", response_model=TokenWire)
def get_token(
    td: App, caller: HandoutCaller, name: str, token_type: Literal["shared", "user"] = "shared"
) -> FastAPIResponse:
    """A valid access token (never the refresh token); refreshed first when it is due.

    The bearer is an API key, or a workload's JWT from a trusted workload issuer (mapped to
    a principal by the issuer's rules). Bots' requests with an API key are answered ahead of
    this route by :mod:`tokendesk.web.hotpath`, with the same answer:
    :class:`~tokendesk.client.wire.TokenWire`, the SDK's wire format."""
    kind = TokenKind(token_type)
    if isinstance(caller, str):  # a workload's JWT: never through the hot path's cache
        return token_response(td.workload_identity.handout(caller, name, kind))
    return token_response(td.tokens.handout(caller, name, kind))


@router.post("/token/refresh", response_model=TokenWire)
def force_refresh(
    td: App, caller: Caller, name: str, token_type: Literal["shared", "user"] = "shared"
) -> FastAPIResponse:
    """Refresh now and hand out the new token (a resource server answered 401)."""
    return token_response(
        td.tokens.handout(caller, name, TokenKind(token_type), force_refresh=True)
    )


@router.get("/tokens")
def token_statuses(td: App, caller: Caller, name: str) -> list[TokenStatusOut]:
    """Each token's state (never the token): ``state``, ``reason`` and ``action`` in the
    one vocabulary, and the diagnosis of a refused refresh."""
    with td.transaction(read_only=True) as tx:
        return [TokenStatusOut.of(d.token, d.words)
                for d in TokenStates(td.tokens).described(tx, caller, name)]


@router.post("/tokens/{token_type}/refresh")
def refresh_token(
    td: App, caller: Caller, name: str, token_type: Literal["shared", "user"]
) -> TokenStatusOut:
    """Refresh now; ``refreshed`` and ``message`` say whether it was (a back-off, or a
    refresh a moment ago, sends nothing)."""
    outcome = TokenStates(td.tokens).refresh_now(caller, name, TokenKind(token_type))
    shown = TokenStatusOut.of(outcome.token, outcome.words)
    return shown.model_copy(update={"refreshed": outcome.refreshed, "message": outcome.message})


@router.delete(
    "/tokens/{token_type}",
    status_code=204,
    responses={200: {"model": NotRevokedOut,
                     "description": "Forgotten, but the provider could not revoke it"}},
)
def disconnect_token(
    td: App, caller: Caller, name: str, token_type: Literal["shared", "user"]
) -> Response:
    """Forget a token: 204 when the provider was asked to revoke it; 200 with what to do at
    the provider when it has no revocation endpoint."""
    note = td.tokens.disconnect(caller, name, TokenKind(token_type))
    if note is None:
        return Response(status_code=204)
    return JSONResponse(NotRevokedOut(message=note).model_dump())


@router.get("/tokens/user/{username}")
def user_token_status(td: App, caller: Caller, name: str, username: str) -> TokenStatusOut:
    """Manage connections: the state of one user's token of this connection (never the
    token itself)."""
    return TokenStatusOut.of(td.user_tokens.get(caller, name, username).token)


@router.delete(
    "/tokens/user/{username}",
    status_code=204,
    responses={200: {"model": NotRevokedOut,
                     "description": "Forgotten, but the provider could not revoke it"}},
)
def revoke_user_token(td: App, caller: Caller, name: str, username: str) -> Response:
    """Manage connections: revoke one user's token of this connection (RFC 7009); the user
    must consent again. 204 when the provider was asked to revoke it; 200 with what to do at
    the provider when it has no revocation endpoint."""
    note = td.user_tokens.revoke(caller, name, username)
    if note is None:
        return Response(status_code=204)
    return JSONResponse(NotRevokedOut(message=note).model_dump())


@router.post("/authorize")
def authorize(td: App, caller: Caller, name: str, body: AuthorizeIn | None = None) -> FlowLinkOut:
    """A one-time link that starts the consent in the browser that opens it."""
    purpose = Purpose.SHARED if body and body.token_type == "shared" else Purpose.USER
    with td.transaction() as tx:
        link = td.consent.create_link(tx, caller, name, purpose)
    return FlowLinkOut(url=link.url, expires_at=link.expires_at)


class TokenImportIn(BaseModel):
    """A refresh token brought from another token store (never echoed back)."""

    model_config = ConfigDict(extra="forbid")
    token_type: Literal["shared", "user"]
    user: str | None = Field(default=None, max_length=200)
    refresh_token: SecretStr = Field(max_length=REFRESH_TOKEN_MAX)
    replace: StrictBool = False


@router.post("/token-imports", status_code=201)
def import_token(td: App, caller: Caller, name: str, body: TokenImportIn) -> TokenStatusOut:
    """Bring a token in without a new consent: the refresh token is proven with one refresh
    at the provider and stored only if the provider accepts it (``token_refused`` else)."""
    item = TokenImport(TokenKind(body.token_type), Secret(body.refresh_token.get_secret_value()),
                       body.user)
    return TokenStatusOut.of(td.importer.import_token(caller, name, item, replace=body.replace))


@router.post("/test")
def test_connection(td: App, caller: Caller, name: str, body: TestIn | None = None) -> VerdictOut:
    """Client credentials: a real token request. Authorization code: a link to consent."""
    verdict = td.tester.test(caller, name, save_credentials=bool(body and body.save_credentials))
    return VerdictOut.of(verdict)
