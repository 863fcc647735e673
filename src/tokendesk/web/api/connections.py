"""``/api/v1/connections``: register, list, show, edit and delete connections."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tokendesk.services.connections import ConnectionFilter
from tokendesk.services.inputs import ConnectionCreate, ConnectionUpdate
from tokendesk.views.connections import ConnectionOut, ConnectionUseOut
from tokendesk.web.api.responses import error_responses
from tokendesk.web.deps import App, Caller

router = APIRouter(prefix="/connections", tags=["connections"], responses=error_responses())


@router.get("")
def list_connections(td: App, caller: Caller, provider: str | None = None,
                     name: str | None = None) -> list[ConnectionOut] | list[ConnectionUseOut]:
    """The connections the caller may see; without *View connections*, only the invited ones
    and only what is needed to use them (no settings)."""
    with td.transaction(read_only=True) as tx:
        found = td.connections.search(tx, caller, ConnectionFilter(provider, name))
    if not td.connections.may_see_settings(caller):
        return [ConnectionUseOut.of(c) for c in found]
    return [ConnectionOut.of(c, td.settings.callback_url) for c in found]


@router.post("", status_code=201)
def create_connection(td: App, caller: Caller, body: ConnectionCreate) -> ConnectionOut:
    """With ``issuer`` (custom connections), the issuer's metadata fills what is left open."""
    body = td.discovery.fill(caller, body)
    with td.transaction() as tx:
        connection = td.connections.create(tx, caller, body)
    return ConnectionOut.of(connection, td.settings.callback_url)


@router.get("/{name}")
def show_connection(td: App, caller: Caller, name: str) -> ConnectionOut | ConnectionUseOut:
    """The connection's settings; an invited caller without *View connections* gets only
    what is needed to use it."""
    with td.transaction(read_only=True) as tx:
        connection = td.connections.get(tx, caller, name)
    if not td.connections.may_see_settings(caller):
        return ConnectionUseOut.of(connection)
    return ConnectionOut.of(connection, td.settings.callback_url)


@router.patch("/{name}")
def edit_connection(td: App, caller: Caller, name: str, body: ConnectionUpdate) -> ConnectionOut:
    with td.transaction() as tx:
        connection = td.connections.update(tx, caller, name, body)
    return ConnectionOut.of(connection, td.settings.callback_url)


@router.delete("/{name}", status_code=204)
def delete_connection(td: App, caller: Caller, name: str) -> Response:
    td.removal.remove(caller, name)  # revokes at the provider now; failures retried later
    return Response(status_code=204)
