"""My settings > OAuth connections: the connections I may use and my user-specific tokens.

The API's ``authenticate_url`` of a user-specific token points at ``/my/connections/<name>``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokendesk.domain.connections import GrantType
from tokendesk.domain.tokens import TokenKind
from tokendesk.errors import ConnectionNotFound, TokendeskError
from tokendesk.tokens.consent_flow import Purpose
from tokendesk.tokens.states import TokenStates
from tokendesk.web.console.base import (
    ConsoleRoute,
    CurrentViewer,
    PostedForm,
    Viewer,
    notify,
    page,
    path_of,
    redirect,
    tokendesk,
)
from tokendesk.web.console.consents import finished_consent, start_consent
from tokendesk.web.console.views import grant_label, shared_token, token_state, user_token

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/my/connections")
def my_connections(request: Request, viewer: CurrentViewer) -> Response:
    td = tokendesk(request)
    principal = viewer.principal
    with td.transaction() as tx:
        usable = td.connections.usable_by(tx, principal)
        tokens = {c.id: td.tokens.statuses(tx, principal, c.name) for c in usable}
    now = td.clock()
    rows = [(c, token_state(user_token(tokens[c.id], principal.user_id), c, now),
             token_state(shared_token(tokens[c.id]), c, now)) for c in usable]
    return page(request, viewer, "console/my_connections.html", rows=rows,
                grant_label=grant_label, providers={p.key: p.name for p in td.catalog.providers()})


@router.get("/my/connections/{name}")
def my_connection(request: Request, viewer: CurrentViewer, name: str) -> Response:
    td = tokendesk(request)
    verdict = finished_consent(request, viewer, name)
    if verdict is not None:
        notify(request, viewer, "ok" if verdict.ok else "error", verdict.message)
    principal = viewer.principal
    with td.transaction() as tx:
        connection = td.connections.get(tx, principal, name)
        if not connection.invites(principal):
            # Only invited users may use it; to anyone else it does not exist here.
            raise ConnectionNotFound(f"There is no connection named '{name}' that you may use.")
        tokens = td.tokens.statuses(tx, principal, connection.name)
    now, own = td.clock(), user_token(tokens, principal.user_id)
    return page(request, viewer, "console/my_connection.html", connection=connection,
                mine=token_state(own, connection, now),
                forecast=td.attention.token_forecasts(own, connection)[:1] if own else [],
                shared=token_state(shared_token(tokens), connection, now),
                provider=td.catalog.get(connection.provider),
                grant_label=grant_label(connection.grant_type.value),
                code_flow=connection.grant_type is GrantType.AUTHORIZATION_CODE)


@router.post("/my/connections/{name}/login")
def login(request: Request, viewer: CurrentViewer, form: PostedForm, name: str) -> Response:
    """Authenticate (or re-authenticate) my user-specific token: consent at the provider."""
    return start_consent(request, viewer, name, Purpose.USER,
                         return_to=path_of("my", "connections", name))


@router.post("/my/connections/{name}/refresh")
def refresh(request: Request, viewer: CurrentViewer, form: PostedForm, name: str) -> Response:
    return _token_action(request, viewer, name, "refresh")


@router.post("/my/connections/{name}/disconnect")
def disconnect(request: Request, viewer: CurrentViewer, form: PostedForm, name: str) -> Response:
    return _token_action(request, viewer, name, "disconnect")


def _token_action(request: Request, viewer: Viewer, name: str, action: str) -> Response:
    td = tokendesk(request)
    try:
        if action == "refresh":
            outcome = TokenStates(td.tokens).refresh_now(viewer.principal, name, TokenKind.USER)
            notify(request, viewer, "ok" if outcome.refreshed else "error",
                   outcome.message.replace("The token", "Your token", 1))
        else:
            note = td.tokens.disconnect(viewer.principal, name, TokenKind.USER)
            notify(request, viewer, "ok", f"Your token was deleted here. {note}"
                   if note else "Your token was revoked and deleted.")
    except TokendeskError as exc:
        if exc.status in (401, 403, 404):
            raise
        notify(request, viewer, "error", exc.message)
    return redirect(path_of("my", "connections", name))
