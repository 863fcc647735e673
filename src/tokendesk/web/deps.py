"""What every route needs: the application, and who is calling."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from pydantic import SecretStr

from tokendesk.domain.principal import Principal
from tokendesk.domain.workload import looks_like_jwt
from tokendesk.errors import AuthenticationRequired, PasswordChangeRequired, PermissionDenied
from tokendesk.services.auth import csrf_matches
from tokendesk.wiring import Tokendesk

SESSION_COOKIE = "tokendesk_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# With an https public URL the browser keeps these cookies only as set by this host, over
# https, for path / (the __Host- prefix): a sibling subdomain cannot plant or shadow them.
HOST_PREFIX = "__Host-"


def cookie_name(request: Request, name: str) -> str:
    """The name a console cookie goes by: ``__Host-<name>`` when the public URL is https."""
    return HOST_PREFIX + name if get_tokendesk(request).settings.secure_cookies else name


def require_metrics_token(request: Request, token: SecretStr | None) -> None:
    """Raise AuthenticationRequired unless ``token`` is None or sent as a bearer token."""
    if token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise AuthenticationRequired("Send the metrics token as 'Authorization: Bearer <token>'.")


def get_tokendesk(request: Request) -> Tokendesk:
    td: Tokendesk = request.app.state.tokendesk
    return td


def get_principal(request: Request) -> Principal:
    """Authenticate by ``Authorization: Bearer <API key>`` or by the console session cookie.

    A cookie-authenticated change must carry the session's CSRF token in ``X-CSRF-Token``.
    Raises AuthenticationRequired or PermissionDenied.
    """
    td = get_tokendesk(request)
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if header:
        if scheme.lower() != "bearer" or not credential.strip():
            raise AuthenticationRequired("Send the API key as 'Authorization: Bearer <key>'.")
        with td.transaction(read_only=True) as tx:
            return td.auth.authenticate_api_key(tx, credential.strip())
    session_id = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    if not session_id:
        raise AuthenticationRequired(
            "Sign in, or send an API key as 'Authorization: Bearer <key>'."
        )
    with td.transaction() as tx:
        principal, csrf_hash = td.auth.authenticate_session(tx, session_id)
        must_change = td.auth.password_change_required(tx, principal)
    if must_change:  # as in the console: nothing before the generated password is replaced
        raise PasswordChangeRequired("Choose your own password first: in the console, My "
                                     "settings > Password.")
    if request.method not in SAFE_METHODS and not csrf_matches(
        request.headers.get(CSRF_HEADER, ""), csrf_hash
    ):
        raise PermissionDenied("The CSRF token is missing or wrong; reload the page.")
    return principal


def workload_token(request: Request) -> str | None:
    """The bearer credential when it is a workload's JWT (not an API key), else None."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer" and looks_like_jwt(credential):
        return credential
    return None


def get_handout_caller(request: Request) -> Principal | str:
    """Who asks for a token: the principal of an API key or session, or the workload's JWT
    itself (verified by the handout, never by the hot path's cache). Raises as
    :func:`get_principal`, before the request's parameters are validated."""
    jwt = workload_token(request)
    return jwt if jwt is not None else get_principal(request)


App = Annotated[Tokendesk, Depends(get_tokendesk)]
Caller = Annotated[Principal, Depends(get_principal)]
HandoutCaller = Annotated[Principal | str, Depends(get_handout_caller)]
