"""A connection's proxy on its page: the global forward proxy, none, or its own (thin: parse
the form, call one service, say what happened). The password is write-only: the page shows
only whether one is stored."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import SecretStr
from pydantic import ValidationError as InputError

from tokendesk.domain.permissions import Permission
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

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
MODES = ("global", "none", "own")


@router.post("/connections/{name}/proxy")
def save_connection_proxy(request: Request, viewer: CurrentViewer, form: PostedForm,
                          name: str) -> Response:
    """Choose how the connection reaches its provider; an empty password keeps the stored
    one (for the same proxy URL)."""
    viewer.principal.require(Permission.MANAGE_CONNECTIONS)
    td = tokendesk(request)
    here = path_of("connections", name)
    mode = form.text("proxy_mode")
    if mode not in MODES:
        notify(request, viewer, "error", "Choose how the connection reaches its provider.")
        return redirect(here)
    given: dict[str, Any] = {"proxy_mode": mode}
    if mode == "own":
        password = form.text("proxy_password")
        given.update(proxy_url=form.text("proxy_url"), proxy_username=form.text("proxy_username"),
                     proxy_bypass=form.text("proxy_bypass"),
                     proxy_password=SecretStr(password) if password else None)
    try:
        data = ConnectionUpdate(**given)
        with td.transaction() as tx:
            saved = td.connections.update(tx, viewer.principal, name, data)
    except InputError:
        notify(request, viewer, "error", "A proxy field is too long.")
        return redirect(here)
    except ValidationError as exc:
        notify(request, viewer, "error", exc.message)
        return redirect(here)
    notify(request, viewer, "ok", {
        "global": "The connection uses the forward proxy of the network settings.",
        "none": "The connection reaches its provider directly, without a proxy.",
        "own": f"The connection reaches its provider through {saved.proxy.url}.",
    }[mode])
    return redirect(path_of("connections", saved.name))
