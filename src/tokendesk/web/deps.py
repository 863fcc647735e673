"""What every route needs: the application, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tokendesk.domain.principal import Principal
from tokendesk.errors import AuthenticationRequired, PermissionDenied
from tokendesk.services.auth import csrf_matches
from tokendesk.wiring import Tokendesk

SESSION_COOKIE = "tokendesk_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise AuthenticationRequired(
            "Sign in, or send an API key as 'Authorization: Bearer <key>'."
        )
    with td.transaction() as tx:
        principal, csrf_hash = td.auth.authenticate_session(tx, session_id)
    if request.method not in SAFE_METHODS and not csrf_matches(
        request.headers.get(CSRF_HEADER, ""), csrf_hash
    ):
        raise PermissionDenied("The CSRF token is missing or wrong; reload the page.")
    return principal


App = Annotated[Tokendesk, Depends(get_tokendesk)]
Caller = Annotated[Principal, Depends(get_principal)]
