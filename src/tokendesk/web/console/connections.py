"""Manage > OAuth connections: the list, a connection's page, and its actions."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokendesk.domain.connections import Connection, GrantType
from tokendesk.domain.permissions import Permission
from tokendesk.domain.timeline import DEFAULT_TIMELINE_DAYS
from tokendesk.domain.tokens import StoredToken, TokenKind
from tokendesk.errors import TokendeskError, ValidationError
from tokendesk.services.connections import ConnectionFilter
from tokendesk.tokens.consent_flow import Purpose
from tokendesk.tokens.states import TokenStates
from tokendesk.views.connections import CertificateOut
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
from tokendesk.web.console.confirmations import confirmed
from tokendesk.web.console.consents import finished_consent, return_path, start_consent
from tokendesk.web.console.forecasts import forecasts_of
from tokendesk.web.console.timeline_chart import TIMELINE_PERIODS, chart_of
from tokendesk.web.console.views import (
    HIDDEN,
    STATUS_FILTERS,
    TokenState,
    grant_label,
    search_filter,
    shared_token,
    token_state,
)
from tokendesk.wiring import Tokendesk

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
RECENT_EVENTS = 15


@router.get("/connections")
def list_connections(request: Request, viewer: CurrentViewer, q: str = "", provider: str = "",
                     status: str = "") -> Response:
    """The table of connections, filtered by provider and shared token status, searched by
    name."""
    viewer.principal.require(Permission.VIEW_CONNECTIONS)
    td = tokendesk(request)
    errors: dict[str, str] = {}
    rows: list[tuple[Connection, TokenState]] = []
    try:
        rows = shared_states(td, viewer, search_filter(q, provider))
    except ValidationError as exc:
        errors[exc.field or "q"] = exc.message
    if status:
        rows = [(c, s) for c, s in rows if s.key == status]
    filtered = bool(q.strip() or provider or status)
    return page(request, viewer, "console/connections.html", rows=rows, q=q,
                provider=provider, status_filter=status, errors=errors, filtered=filtered,
                providers=td.catalog.providers(), status_filters=STATUS_FILTERS,
                provider_names={p.key: p.name for p in td.catalog.providers()},
                grant_label=grant_label)


def shared_states(td: Tokendesk, viewer: Viewer, where: ConnectionFilter
                  ) -> list[tuple[Connection, TokenState]]:
    """The connections ``where`` selects, each with its shared token's state as the viewer
    may see it. Raises ValidationError for a search no name could match."""
    with td.transaction(read_only=True) as tx:
        found = td.connections.search(tx, viewer.principal, where)
        tokens = {c.id: td.tokens.statuses(tx, viewer.principal, c.name) for c in found}
    now = td.clock()
    return [(c, _shared_state(viewer, c, tokens[c.id], now)) for c in found]


def _shared_state(viewer: Viewer, connection: Connection, tokens: list[StoredToken],
                  now: datetime) -> TokenState:
    """The shared token's state where the viewer may see it (managers, invited users)."""
    may_see = viewer.can(Permission.MANAGE_CONNECTIONS) or connection.invites(viewer.principal)
    if not may_see:
        return HIDDEN
    return token_state(shared_token(tokens), connection, now)


@router.get("/connections/{name}")
def show_connection(request: Request, viewer: CurrentViewer, name: str,
                    days: str = "") -> Response:
    """The connection's admin page, with its timeline of the last ``days`` days; an invited
    user without *View connections* is sent to his own page of it (My settings), which
    shows what he needs and no settings."""
    td = tokendesk(request)
    if not td.connections.may_see_settings(viewer.principal):
        return redirect(path_of("my", "connections", name))
    verdict = finished_consent(request, viewer, name)
    if verdict is not None:
        notify(request, viewer, "ok" if verdict.ok else "error", verdict.message)
    principal = viewer.principal
    with td.transaction() as tx:
        connection = td.connections.get(tx, principal, name)
        tokens = td.tokens.statuses(tx, principal, connection.name)
        looks = viewer.can(Permission.VIEW_CONNECTIONS)
        events = (td.audit.recent_for_connection(tx, principal, connection, RECENT_EVENTS)
                  if looks else [])
        timeline = (td.audit.timeline(tx, principal, connection, timeline_days(days))
                    if looks else None)
        usernames = td.accounts.usernames(tx) if viewer.can(Permission.MANAGE_CONNECTIONS) else {}
    now = td.clock()
    shared = token_state(shared_token(tokens), connection, now)
    users = [(usernames.get(t.user_id or "", "unknown"), token_state(t, connection, now))
             for t in tokens if t.kind is TokenKind.USER and t.user_id != principal.user_id]
    return page(request, viewer, "console/connection.html", connection=connection,
                certificate=CertificateOut.of(connection.client_certificate),
                provider=td.catalog.get(connection.provider), shared=shared, users=users,
                events=events, callback_url=connection.callback_url(td.settings.callback_url),
                invited=connection.invites(principal),
                may_manage=viewer.can(Permission.MANAGE_CONNECTIONS),
                grant_label=grant_label(connection.grant_type.value),
                code_flow=connection.grant_type is GrantType.AUTHORIZATION_CODE,
                forecasts=forecasts_of(td, connection, shared.token),
                chart=chart_of(timeline) if timeline else None,
                timeline_periods=TIMELINE_PERIODS)


def timeline_days(text: str) -> int:
    """The timeline's period as typed in the address (empty: the default); raises
    ValidationError when it is not a whole number."""
    if not text:
        return DEFAULT_TIMELINE_DAYS
    if not text.isascii() or not text.isdigit() or len(text) > 4:
        raise ValidationError("The timeline's period is a whole number of days, such as 7.",
                              field="days")
    return int(text)


@router.get("/connections/{name}/continue")
def continue_after_consent(request: Request, viewer: CurrentViewer, name: str) -> Response:
    """Where the OAuth result page's Continue leads: back to where the consent began."""
    default = (path_of("connections", name) if viewer.can(Permission.VIEW_CONNECTIONS)
               else path_of("my", "connections", name))
    return redirect(return_path(request, viewer, name, default))


@router.post("/connections/{name}/test")
def test_connection(request: Request, viewer: CurrentViewer, form: PostedForm,
                    name: str) -> Response:
    """Test again: a token request (client credentials) or a consent (authorization code)."""
    viewer.principal.require(Permission.MANAGE_CONNECTIONS)
    td = tokendesk(request)
    here = path_of("connections", name)
    save = form.flag("save_credentials")
    with td.transaction() as tx:
        connection = td.connections.get(tx, viewer.principal, name)
    if connection.grant_type is GrantType.AUTHORIZATION_CODE:
        return start_consent(request, viewer, connection.name,
                             Purpose.SHARED if save else Purpose.TEST, return_to=here)
    verdict = td.tester.test(viewer.principal, connection.name, save_credentials=save)
    notify(request, viewer, "ok" if verdict.ok else "error", verdict.message)
    return redirect(here)


@router.post("/connections/{name}/reauthenticate")
def reauthenticate(request: Request, viewer: CurrentViewer, form: PostedForm,
                   name: str) -> Response:
    """Consent again for the shared token."""
    viewer.principal.require(Permission.MANAGE_CONNECTIONS)
    return start_consent(request, viewer, name, Purpose.SHARED,
                         return_to=path_of("connections", name))


@router.post("/connections/{name}/refresh")
def refresh_now(request: Request, viewer: CurrentViewer, form: PostedForm,
                name: str) -> Response:
    return _token_action(request, viewer, name, "refresh")


@router.post("/connections/{name}/disconnect")
def disconnect(request: Request, viewer: CurrentViewer, form: PostedForm,
               name: str) -> Response:
    viewer.principal.require(Permission.MANAGE_CONNECTIONS)
    if not confirmed(form):  # bots may depend on the shared token: say so first
        return redirect(path_of("connections", name, "disconnect"))
    return _token_action(request, viewer, name, "disconnect")


def _token_action(request: Request, viewer: Viewer, name: str, action: str) -> Response:
    viewer.principal.require(Permission.MANAGE_CONNECTIONS)
    td = tokendesk(request)
    try:
        if action == "refresh":
            outcome = TokenStates(td.tokens).refresh_now(viewer.principal, name,
                                                         TokenKind.SHARED)
            # Says what really happened: a back-off or a refresh a moment ago sends nothing.
            notify(request, viewer, "ok" if outcome.refreshed else "error",
                   outcome.message.replace("The token", "The shared token", 1))
        else:
            note = td.tokens.disconnect(viewer.principal, name, TokenKind.SHARED)
            notify(request, viewer, "ok", f"The shared token was deleted here. {note}"
                   if note else "The shared token was revoked and deleted.")
    except TokendeskError as exc:
        if exc.status in (401, 403, 404):
            raise
        notify(request, viewer, "error", exc.message)
    return redirect(path_of("connections", name))


@router.get("/connections/{name}/users/{username}/revoke")
def confirm_revoke_user_token(request: Request, viewer: CurrentViewer, name: str,
                              username: str) -> Response:
    """Ask before revoking one user's token: say what it breaks."""
    td = tokendesk(request)
    found = td.user_tokens.get(viewer.principal, name, username)
    with td.transaction() as tx:
        connection = td.connections.get(tx, viewer.principal, name)
    return page(request, viewer, "console/user_token_revoke.html", connection=connection,
                username=found.username, state=token_state(found.token, connection, td.clock()))


@router.post("/connections/{name}/users/{username}/revoke")
def revoke_user_token(request: Request, viewer: CurrentViewer, form: PostedForm, name: str,
                      username: str) -> Response:
    td = tokendesk(request)
    note = td.user_tokens.revoke(viewer.principal, name, username)
    notify(request, viewer, "ok", f"The token of '{username}' was deleted here. {note}" if note
           else f"The token of '{username}' was revoked and deleted; {username} must log in "
           "again to use this connection.")
    return redirect(path_of("connections", name))


@router.get("/connections/{name}/delete")
def confirm_delete(request: Request, viewer: CurrentViewer, name: str) -> Response:
    viewer.principal.require(Permission.MANAGE_CONNECTIONS)
    td = tokendesk(request)
    with td.transaction() as tx:
        connection = td.connections.get(tx, viewer.principal, name)
    return page(request, viewer, "console/connection_delete.html", connection=connection)


@router.post("/connections/{name}/delete")
def delete_connection(request: Request, viewer: CurrentViewer, form: PostedForm,
                      name: str) -> Response:
    td = tokendesk(request)
    deleted = td.removal.remove(viewer.principal, name)
    notify(request, viewer, "ok", f"The connection '{deleted.name}' was deleted, with its tokens.")
    return redirect("/connections")
