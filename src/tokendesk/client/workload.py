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

from tokendesk.client.base import DEFAULT_TIMEOUT_S, USER_AGENT
from tokendesk.client.core import Client
from tokendesk.client.errors import (
    APIError,
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    ProtocolError,
    TokenUnavailable,
    Unavailable,
    transport_errors,
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


class WorkloadClient(Client):
    """A :class:`Client` that proves itself with a workload token instead of an API key."""

    def __init__(self, base_url: str, workload_token: Callable[[], str], *,
                 timeout_s: float = DEFAULT_TIMEOUT_S,
                 transport: httpx.BaseTransport | None = None, verify: bool | str = True,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(base_url, "", timeout_s=timeout_s, transport=transport, verify=verify)
        self._workload_token = workload_token
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[AccessToken, datetime]] = {}
        self._lock = threading.Lock()

    def get_token(self, name: str, token_type: TokenType = "shared", *,
                  force_refresh: bool = False) -> AccessToken:
        """A valid access token of connection ``name``: the cached one until
        RENEW_MARGIN_S before it expires, else a new exchange. Raises the SDK's
        :class:`~tokendesk.client.errors.TokendeskError` tree (invalid_grant:
        AuthenticationFailed; invalid_target: NotFound)."""
        key = (name, token_type)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and not force_refresh and self._clock() < cached[1]:
            return cached[0]
        now = self._clock()
        token = self._exchange(name, token_type)
        with self._lock:
            self._cache[key] = (token, renew_at(token, now))
        return token

    def _exchange(self, name: str, token_type: TokenType) -> AccessToken:
        form = {"grant_type": GRANT_TYPE, "subject_token": self._workload_token(),
                "subject_token_type": JWT_TYPE, "audience": name,
                "requested_token_type": ACCESS_TYPE, "token_kind": token_type}
        request = httpx.Request("POST", self.base_url + "/oauth/token", data=form,
                                headers={"Accept": "application/json",
                                         "User-Agent": USER_AGENT},
                                extensions={"timeout": self._timeout.as_dict()})
        with transport_errors(self.base_url):
            response = self._http.send(request)
        now = self._clock()
        body = _json(response)
        if not response.is_success:
            raise _oauth_error(response.status_code, body)
        try:
            expires_in = body.get("expires_in")
            return AccessToken(
                access_token=str(body["access_token"]),
                token_type=str(body.get("token_type") or "Bearer"),
                expires_at=now + timedelta(seconds=float(expires_in))
                if expires_in is not None else None,
                scope=str(body.get("scope") or ""), connection=name, kind=token_type,
                provider_fields={})
        except (KeyError, TypeError, ValueError):
            raise ProtocolError("Tokendesk's answer is not a token exchange answer.",
                                code="protocol_error", status=response.status_code) from None


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
