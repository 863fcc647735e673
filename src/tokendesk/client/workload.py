"""Workloads without a stored Tokendesk key: the identity token their platform gives them
(a Kubernetes projected service account token, a CI job's OIDC token, a SPIFFE JWT-SVID) is
exchanged at Tokendesk's ``POST /oauth/token`` (RFC 8693) for a connection's access token,
which is kept until shortly before it expires::

    desk = Client.from_workload_identity(
        "https://tokendesk.example.com",
        token_file="/var/run/secrets/tokens/tokendesk")
    token = desk.get_token("Salesforce prod")

The platform's token is read again for every exchange (a projected token file is renewed by
the kubelet), never kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tokendesk.client.base import USER_AGENT
from tokendesk.client.errors import (
    APIError,
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    ProtocolError,
    TokenUnavailable,
    Unavailable,
)
from tokendesk.client.models import AccessToken, TokenType

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ACCESS_TYPE = "urn:ietf:params:oauth:token-type:access_token"
# A cached token is exchanged again this long before it expires (half-way if it lives less).
RENEW_MARGIN_S = 60.0
# RFC 6749 §5.2 / RFC 8693 §2.2.2 errors, as the SDK's exception tree names them.
OAUTH_ERRORS: dict[str, type[APIError]] = {
    "invalid_grant": AuthenticationFailed,
    "invalid_client": AuthenticationFailed,
    "unauthorized_client": AuthenticationFailed,
    "invalid_target": NotFound,
    "invalid_request": InvalidRequest,
    "invalid_scope": InvalidRequest,
    "unsupported_grant_type": InvalidRequest,
    "temporarily_unavailable": Unavailable,
}


def token_from_file(path: str | Path) -> Callable[[], str]:
    """A source reading the platform's token from ``path`` each time (renewed files)."""
    def read() -> str:
        return Path(path).read_text(encoding="utf-8").strip()
    return read


class WorkloadExchange:
    """How a client without an API key gets tokens: the platform's token (``source``, read
    again for each exchange) exchanged at ``POST /oauth/token``, each answer kept per
    (connection, token type) until :func:`renew_at`. No I/O of its own: the sync client
    sends the requests it builds."""

    def __init__(self, source: Callable[[], str],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.source = source
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[AccessToken, datetime]] = {}
        self._lock = threading.Lock()

    def cached(self, name: str, token_type: TokenType) -> AccessToken | None:
        """The kept token of ``name``, or None when there is none or it is due."""
        with self._lock:
            found = self._cache.get((name, token_type))
        if found is not None and self.clock() < found[1]:
            return found[0]
        return None

    def request(self, base_url: str, name: str, token_type: TokenType,
                timeout: httpx.Timeout) -> httpx.Request:
        """The RFC 8693 §2.1 request for connection ``name``."""
        form = {"grant_type": GRANT_TYPE, "subject_token": self.source(),
                "subject_token_type": JWT_TYPE, "audience": name,
                "requested_token_type": ACCESS_TYPE, "token_kind": token_type}
        return httpx.Request("POST", base_url + "/oauth/token", data=form,
                             headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                             extensions={"timeout": timeout.as_dict()})

    def accept(self, response: httpx.Response, name: str, token_type: TokenType,
               sent_at: datetime) -> AccessToken:
        """The token of an RFC 8693 §2.2.1 answer, kept; raises the SDK's error for an
        RFC 6749 §5.2 error answer (invalid_grant: AuthenticationFailed; invalid_target:
        NotFound), ProtocolError for anything else."""
        body = _json(response)
        if not response.is_success:
            raise _oauth_error(response.status_code, body)
        try:
            expires_in = body.get("expires_in")
            token = AccessToken(
                access_token=str(body["access_token"]),
                token_type=str(body.get("token_type") or "Bearer"),
                expires_at=sent_at + timedelta(seconds=float(expires_in))
                if expires_in is not None else None,
                scope=str(body.get("scope") or ""), connection=name, kind=token_type,
                provider_fields={})
        except (KeyError, TypeError, ValueError):
            raise ProtocolError("Tokendesk's answer is not a token exchange answer.",
                                code="protocol_error", status=response.status_code) from None
        with self._lock:
            self._cache[(name, token_type)] = (token, renew_at(token, sent_at))
        return token


def renew_at(token: AccessToken, now: datetime) -> datetime:
    """When a token fetched at ``now`` is exchanged again: RENEW_MARGIN_S before it expires,
    or half-way for a short-lived one; at once for a token without expiry."""
    if token.expires_at is None:
        return now
    life = (token.expires_at - now).total_seconds()
    return token.expires_at - timedelta(seconds=min(RENEW_MARGIN_S, life / 2))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        doc = response.json()
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _oauth_error(status: int, body: dict[str, Any]) -> APIError:
    code = str(body.get("error") or f"http_{status}")
    message = str(body.get("error_description") or f"Tokendesk answered HTTP {status}.")
    kind = OAUTH_ERRORS.get(code, APIError)
    if kind is NotFound and "authenticate" in message:
        kind = TokenUnavailable  # the connection exists; its token needs a person
    return kind(message, code=code, status=status)
