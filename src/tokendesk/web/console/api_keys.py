"""API keys: your own (everyone), everybody's (with *Manage users*); a new key is shown once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokendesk.domain.permissions import Permission
from tokendesk.errors import PermissionDenied, UserNotFound, ValidationError
from tokendesk.services.inputs import ApiKeyCreate
from tokendesk.web.console.base import (
    ConsoleRoute,
    CurrentViewer,
    PostedForm,
    Viewer,
    build_input,
    notify,
    page,
    path_of,
    redirect,
    tokendesk,
)
from tokendesk.web.console.confirmations import confirmed
from tokendesk.web.console.problems import problems_of

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/api-keys")
def api_keys(request: Request, viewer: CurrentViewer) -> Response:
    return _keys_page(request, viewer)


def _keys_page(request: Request, viewer: Viewer, *, errors: dict[str, str] | None = None,
               typed: dict[str, Any] | None = None, status: int = 200,
               new_key: str | None = None, new_name: str = "") -> Response:
    td = tokendesk(request)
    manager = viewer.can(Permission.MANAGE_USERS)
    with td.transaction() as tx:
        keys = td.auth.list_api_keys(tx, viewer.principal)
        usernames = td.accounts.usernames(tx)
    return page(request, viewer, "console/api_keys.html", status=status, keys=keys,
                usernames=usernames, manager=manager, errors=errors or {},
                typed=typed or {"user": viewer.username},
                users=sorted(usernames.values(), key=str.casefold) if manager else [],
                new_key=new_key, new_name=new_name)


@router.post("/api-keys")
def create_api_key(request: Request, viewer: CurrentViewer, form: PostedForm) -> Response:
    td = tokendesk(request)
    typed = {"name": form.text("name"), "user": form.text("user") or viewer.username}
    try:
        data = build_input(ApiKeyCreate, typed)
        with td.transaction() as tx:
            created = td.auth.create_api_key(tx, viewer.principal, data)
    except (ValidationError, PermissionDenied, UserNotFound) as exc:
        field = "name" if isinstance(exc, ValidationError) else "user"
        errors = (problems_of(exc, default=field) if isinstance(exc, ValidationError)
                  else {exc.field or field: exc.message})
        return _keys_page(request, viewer, errors=errors,
                          typed=typed, status=exc.status)
    # Shown in this answer only (it is never stored in clear); the page is not cached.
    return _keys_page(request, viewer, new_key=created.key, new_name=created.record.name)


@router.post("/api-keys/{key_id}/revoke")
def revoke_api_key(request: Request, viewer: CurrentViewer, form: PostedForm,
                   key_id: str) -> Response:
    td = tokendesk(request)
    if not confirmed(form):
        with td.transaction() as tx:
            td.impact.api_key(tx, viewer.principal, key_id)  # 404 for a key not one's to see
        return redirect(path_of("api-keys", key_id, "revoke"))
    with td.transaction() as tx:
        revoked = td.auth.revoke_api_key(tx, viewer.principal, key_id)
    notify(request, viewer, "ok", f"The API key '{revoked.name}' was revoked.")
    return redirect("/api-keys")
