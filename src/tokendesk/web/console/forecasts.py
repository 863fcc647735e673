"""A connection's forecasts on its page, and the client secret's expiry date an administrator
enters there (thin: parse the form, call one service, say what happened)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokendesk.domain.connections import Connection
from tokendesk.domain.forecast import Forecast
from tokendesk.domain.permissions import Permission
from tokendesk.domain.tokens import StoredToken
from tokendesk.errors import ValidationError
from tokendesk.services.inputs import ConnectionUpdate
from tokendesk.web.console.base import (
    ConsoleRoute,
    CurrentViewer,
    PostedForm,
    notify,
    path_of,
    redirect,
    tokendesk,
)
from tokendesk.wiring import Tokendesk

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
FIELD = "client_secret_expires_on"


def forecasts_of(td: Tokendesk, connection: Connection, shared: StoredToken | None
                 ) -> list[Forecast]:
    """What the connection's page forecasts: its credential's expiry and when the shared
    token needs consent again, earliest first."""
    found = td.attention.connection_forecasts(connection)
    if shared is not None:
        found += td.attention.token_forecasts(shared, connection)[:1]
    return sorted(found, key=lambda f: f.due_at)


@router.post("/connections/{name}/secret-expiry")
def save_secret_expiry(request: Request, viewer: CurrentViewer, form: PostedForm,
                       name: str) -> Response:
    """Enter (or, empty, forget) the day the client secret expires."""
    viewer.principal.require(Permission.MANAGE_CONNECTIONS)
    td = tokendesk(request)
    text = form.text(FIELD).strip()
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        notify(request, viewer, "error", "The client secret's expiry date must be a day "
               "such as 2027-06-30.")
        return redirect(path_of("connections", name))
    try:
        with td.transaction() as tx:
            saved = td.connections.update(tx, viewer.principal, name,
                                          ConnectionUpdate(client_secret_expires_on=day))
    except ValidationError as exc:
        notify(request, viewer, "error", exc.message)
        return redirect(path_of("connections", name))
    notify(request, viewer, "ok", f"The client secret expires on {day.isoformat()}; the "
           "attention list warns before then." if day else
           "The client secret's expiry date was removed.")
    return redirect(path_of("connections", saved.name))
