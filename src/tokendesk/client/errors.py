"""The exceptions the SDK raises; no exception of httpx escapes it.

Catch :class:`TokendeskError` for all of them, or a branch for what you can act on::

    TokendeskError                 base: ``message``, ``code`` (stable), ``status``
    ├── TransportError             Tokendesk was not reached, or the connection broke
    │   └── Timeout                Tokendesk did not answer in time
    ├── ProtocolError              Tokendesk answered something that is not its wire format
    └── APIError                   Tokendesk refused: ``{"error": {"code", "message"}}``
        ├── AuthenticationFailed   401: the API key is missing, wrong, revoked or disabled
        ├── NotInvited             403: the key's user may not do this (``not_invited``: he
        │                          sees the connection; ``invited_roles`` names who may use it)
        ├── NotFound               404: no such connection, or none the key's user may see
        ├── InvalidRequest         400, 422: the request itself is not acceptable
        ├── TokenUnavailable       409: no usable token; ``authenticate_url`` says where to consent
        │   ├── NotAuthenticated          nobody has consented yet
        │   └── ReauthenticationRequired  the provider refused the refresh: consent again
        ├── ProviderFailed         502, 504: the provider failed or refused; ``cause`` names why
        └── Unavailable            503, 429: ask again later, after ``retry_after`` seconds if set
            └── BackingOff         the token expired and its last refresh failed; Tokendesk waits

``code`` is the API's stable error code (e.g. ``reauthentication_required``); the SDK's own
are ``transport_error``, ``timeout`` and ``protocol_error``. A token error also carries the
token's ``state`` in Tokendesk's one vocabulary (``backing_off``, ``needs_consent``,
``misconfigured``, ``damaged``, ``not_connected``) and, when the provider refused a refresh,
its ``diagnosis``: why (``cause``, ``reason``) and what to do (``action``). ``status`` is
None when Tokendesk gave no answer. Messages are written for people and never carry the
API key or a token.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Why the provider refused a token's refresh (``cause``: a stable code; ``reason``:
    in words, with the facts it rests on) and what to do (``action``)."""

    cause: str
    reason: str
    action: str


class TokendeskError(Exception):
    """Base of every error the SDK raises."""

    def __init__(self, message: str, *, code: str, status: int | None = None,
                 authenticate_url: str | None = None, state: str | None = None,
                 diagnosis: Diagnosis | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.authenticate_url = authenticate_url
        # The token's state in Tokendesk's one vocabulary, when the error is about a token.
        self.state = state
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        return self.message


# The name of the SDK's one exception before the tree; bots may still catch it.
TokendeskClientError = TokendeskError


class TransportError(TokendeskError):
    """Tokendesk was not reached or the connection broke; the httpx error is ``__cause__``."""


class Timeout(TransportError):
    """Tokendesk did not answer within the client's timeout."""


class ProtocolError(TokendeskError):
    """Tokendesk answered with something that is not its JSON wire format."""


class APIError(TokendeskError):
    """Tokendesk answered with an error (``status`` and the body's ``code`` and ``message``)."""


class AuthenticationFailed(APIError):
    """The API key is missing, wrong, revoked, or its user is disabled."""


class NotInvited(APIError):
    """The API key's user is not permitted to do this. With the code ``not_invited`` he may
    view the connection but none of his roles is invited; ``invited_roles`` names those that
    are (empty when the answer names none)."""

    def __init__(self, message: str, *, invited_roles: tuple[str, ...] = (),
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.invited_roles = invited_roles


class NotFound(APIError):
    """No such connection, or none that the key's user may see (not revealed)."""


class InvalidRequest(APIError):
    """The request is not acceptable (for example an unknown token type)."""


class TokenUnavailable(APIError):
    """No usable token; a person must (re-)authenticate at ``authenticate_url``."""


class NotAuthenticated(TokenUnavailable):
    """Nobody has consented for this token yet."""


class ReauthenticationRequired(TokenUnavailable):
    """The provider refused to refresh the token: a person must consent again."""


class ProviderFailed(APIError):
    """The provider failed or refused; ``cause`` names why (``unreachable``, ``tls``,
    ``invalid_client``, ...)."""

    def __init__(self, message: str, *, cause: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.cause = cause


class Unavailable(APIError):
    """Tokendesk cannot answer now; ask again later (after ``retry_after`` seconds if set)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class BackingOff(Unavailable):
    """The token expired and its last refresh failed; Tokendesk waits before asking again."""


# The API's stable codes (tokendesk.errors, web/errors.py) the SDK tells apart.
ERRORS_BY_CODE: dict[str, type[APIError]] = {
    "authentication_required": AuthenticationFailed,
    "invalid_credentials": AuthenticationFailed,
    "permission_denied": NotInvited,
    "not_invited": NotInvited,
    "validation_error": InvalidRequest,
    "malformed_json": InvalidRequest,
    "malformed_body": InvalidRequest,
    "token_unavailable": TokenUnavailable,
    "not_authenticated": NotAuthenticated,
    "reauthentication_required": ReauthenticationRequired,
    "connection_misconfigured": TokenUnavailable,
    "token_corrupted": TokenUnavailable,
    "provider_error": ProviderFailed,
    "provider_timeout": ProviderFailed,
    "refresh_backing_off": BackingOff,
    "database_unavailable": Unavailable,
    "database_busy": Unavailable,
    "too_many_attempts": Unavailable,
}
# For codes the SDK does not know (a newer server) and answers that are not the API's.
ERRORS_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    403: NotInvited,
    404: NotFound,
    422: InvalidRequest,
    429: Unavailable,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error answer of Tokendesk (any status but 2xx)."""
    status = response.status_code
    error = _error_body(response)
    code = str(error.get("code") or f"http_{status}")
    message = str(error.get("message") or f"Tokendesk answered HTTP {status}.")
    kind = ERRORS_BY_CODE.get(code) or ERRORS_BY_STATUS.get(status, APIError)
    url = error.get("authenticate_url")
    state = error.get("state")
    common: dict[str, Any] = {"code": code, "status": status,
                              "authenticate_url": url if isinstance(url, str) else None,
                              "state": state if isinstance(state, str) else None,
                              "diagnosis": _diagnosis(error.get("diagnosis"))}
    if issubclass(kind, Unavailable):
        return kind(message, retry_after=retry_after_s(response), **common)
    if issubclass(kind, NotInvited):
        roles = error.get("invited_roles")
        invited = tuple(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else ()
        return kind(message, invited_roles=invited, **common)
    if issubclass(kind, ProviderFailed):
        cause = error.get("cause")
        return kind(message, cause=cause if isinstance(cause, str) else None, **common)
    return kind(message, **common)


def _diagnosis(doc: Any) -> Diagnosis | None:
    """The diagnosis of an error body; None when absent or not of the wire format."""
    if not isinstance(doc, dict):
        return None
    parts = [doc.get(k) for k in ("cause", "reason", "action")]
    if not all(isinstance(p, str) for p in parts):
        return None
    return Diagnosis(*(str(p) for p in parts))


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        doc = response.json()
    except ValueError:  # not JSON: a proxy's page, for example
        return {}
    error = doc.get("error") if isinstance(doc, dict) else None
    return error if isinstance(error, dict) else {}


def retry_after_s(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds from ``Retry-After`` (delay or HTTP date, RFC 9110 §10.2.3); None without."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@contextmanager
def transport_errors(base_url: str) -> Iterator[None]:
    """Turn httpx's errors raised while talking to Tokendesk into the SDK's."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise Timeout(f"Tokendesk at {base_url} did not answer in time.",
                      code="timeout") from exc
    except httpx.TransportError as exc:
        raise TransportError(
            f"Tokendesk at {base_url} could not be reached ({type(exc).__name__}).",
            code="transport_error") from exc
    except httpx.HTTPError as exc:  # e.g. a body that cannot be decoded
        raise ProtocolError(f"Tokendesk's answer could not be read ({type(exc).__name__}).",
                            code="protocol_error") from exc
