"""Administration > Users and Roles (custom roles with their OAuth Connections permissions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import SecretStr

from tokendesk.domain.accounts import User
from tokendesk.domain.permissions import PERMISSION_LABELS, Permission
from tokendesk.errors import DuplicateName, PermissionDenied, ValidationError
from tokendesk.services.inputs import RoleCreate, RoleUpdate, UserCreate, UserUpdate
from tokendesk.web.console.base import (
    ConsoleRoute,
    CurrentViewer,
    Form,
    PostedForm,
    Viewer,
    build_input,
    notify,
    page,
    path_of,
    redirect,
    tokendesk,
)
from tokendesk.web.console.confirmations import confirmed, reset_password_page
from tokendesk.web.console.problems import problems_of

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
# Actions on a user that a confirmation page (its path under the user) comes before.
CONFIRM_FIRST = {"disable": "disable", "password": "password"}


def permission_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """Permissions by feature, as the role form lists them: (feature, [(value, label)])."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for permission, label in PERMISSION_LABELS.items():
        feature, _, name = label.partition(": ")
        groups.setdefault(feature, []).append((permission.value, name))
    return list(groups.items())


def _field_error(exc: ValidationError | DuplicateName | PermissionDenied,
                 default: str) -> dict[str, str]:
    """Every problem of the form (a ValidationError may carry several), else the one."""
    if isinstance(exc, ValidationError) and exc.details.get("problems"):
        return problems_of(exc)
    return {getattr(exc, "field", None) or default: exc.message}


def _roles_of(names: dict[str, str]) -> Callable[[User], list[str]]:
    def roles_of(user: User) -> list[str]:
        return sorted((names[r] for r in user.role_ids if r in names), key=str.casefold)
    return roles_of


# --- users ----------------------------------------------------------------------------------


@router.get("/admin/users")
def users(request: Request, viewer: CurrentViewer) -> Response:
    return _users_page(request, viewer)


def _users_page(request: Request, viewer: Viewer, *, errors: dict[str, str] | None = None,
                typed: dict[str, Any] | None = None, status: int = 200) -> Response:
    td = tokendesk(request)
    with td.transaction() as tx:
        found = td.accounts.list_users(tx, viewer.principal)
        roles = td.accounts.role_names(tx)
    return page(request, viewer, "console/admin_users.html", status=status, users=found,
                roles_of=_roles_of(roles), all_roles=sorted(roles.values(), key=str.casefold),
                errors=errors or {}, typed=typed or {})


@router.post("/admin/users")
def create_user(request: Request, viewer: CurrentViewer, form: PostedForm) -> Response:
    td = tokendesk(request)
    typed = {"username": form.text("username"), "display_name": form.text("display_name"),
             "email": form.text("email"), "roles": form.values("role")}
    try:
        data = build_input(UserCreate, {**typed, "password": SecretStr(form.text("password"))})
        with td.transaction() as tx:
            user = td.accounts.create_user(tx, viewer.principal, data)
    except (ValidationError, DuplicateName) as exc:
        return _users_page(request, viewer, errors=_field_error(exc, "username"), typed=typed,
                           status=422)
    notify(request, viewer, "ok", f"The user '{user.username}' was created.")
    return redirect("/admin/users")


@router.get("/admin/users/{username}")
def user_page(request: Request, viewer: CurrentViewer, username: str) -> Response:
    return _user_page(request, viewer, username)


def _user_page(request: Request, viewer: Viewer, username: str, *,
               errors: dict[str, str] | None = None, status: int = 200) -> Response:
    viewer.principal.require(Permission.MANAGE_USERS)
    td = tokendesk(request)
    with td.transaction() as tx:
        user = td.accounts.get_user(tx, username)
        roles = td.accounts.role_names(tx)
    return page(request, viewer, "console/admin_user.html", status=status, user=user,
                roles_of=_roles_of(roles), all_roles=sorted(roles.values(), key=str.casefold),
                errors=errors or {})


@router.post("/admin/users/{username}")
def update_user(request: Request, viewer: CurrentViewer, form: PostedForm,
                username: str) -> Response:
    action = form.text("action")
    choices: dict[str, dict[str, Any]] = {
        "profile": {"display_name": form.text("display_name"), "email": form.text("email"),
                    "roles": form.values("role")},
        "password": {"password": SecretStr(form.text("password"))},
        "disable": {"disabled": True},
        "enable": {"disabled": False},
    }
    values = choices.get(action, {})
    if not values:
        raise ValidationError("Unknown action.", field="action")
    viewer.principal.require(Permission.MANAGE_USERS)
    if action in CONFIRM_FIRST and not confirmed(form):
        return redirect(path_of("admin", "users", username, CONFIRM_FIRST[action]))
    td = tokendesk(request)
    try:
        data = build_input(UserUpdate, values)
        with td.transaction() as tx:
            td.accounts.update_user(tx, viewer.principal, username, data)
    except (ValidationError, PermissionDenied) as exc:
        default = "password" if action == "password" else "roles"
        if action == "password":
            return reset_password_page(request, viewer, username,
                                       errors=_field_error(exc, default), status=exc.status)
        return _user_page(request, viewer, username, errors=_field_error(exc, default),
                          status=exc.status)
    notify(request, viewer, "ok", {
        "profile": "The user's profile and roles were saved.",
        "password": "The password was reset; the user's sessions were ended.",
        "disable": "The user was disabled; his sessions and API keys stop working now.",
        "enable": "The user was enabled.",
    }[action])
    return redirect(path_of("admin", "users", username))


# --- roles ----------------------------------------------------------------------------------


@router.get("/admin/roles")
def roles(request: Request, viewer: CurrentViewer) -> Response:
    return _roles_page(request, viewer)


def _roles_page(request: Request, viewer: Viewer, *, errors: dict[str, str] | None = None,
                typed: dict[str, Any] | None = None, status: int = 200) -> Response:
    viewer.principal.require(Permission.MANAGE_ROLES)
    td = tokendesk(request)
    with td.transaction() as tx:
        found = td.accounts.list_roles(tx, viewer.principal)
    return page(request, viewer, "console/admin_roles.html", status=status, roles=found,
                groups=permission_groups(), labels=PERMISSION_LABELS, errors=errors or {},
                typed=typed or {"permissions": []})


def _role_values(form: Form) -> dict[str, Any]:
    return {"name": form.text("name"), "description": form.text("description"),
            "permissions": form.values("permission")}


@router.post("/admin/roles")
def create_role(request: Request, viewer: CurrentViewer, form: PostedForm) -> Response:
    td = tokendesk(request)
    typed = _role_values(form)
    try:
        data = build_input(RoleCreate, typed)
        with td.transaction() as tx:
            role = td.accounts.create_role(tx, viewer.principal, data)
    except (ValidationError, DuplicateName, PermissionDenied) as exc:
        field = "permissions" if isinstance(exc, PermissionDenied) else "name"
        return _roles_page(request, viewer, errors=_field_error(exc, field), typed=typed,
                           status=exc.status)
    notify(request, viewer, "ok", f"The role '{role.name}' was created.")
    return redirect("/admin/roles")


@router.get("/admin/roles/{name}")
def role_page(request: Request, viewer: CurrentViewer, name: str) -> Response:
    return _role_page(request, viewer, name)


def _role_page(request: Request, viewer: Viewer, name: str, *,
               errors: dict[str, str] | None = None, status: int = 200) -> Response:
    viewer.principal.require(Permission.MANAGE_ROLES)
    td = tokendesk(request)
    with td.transaction() as tx:
        role = td.accounts.get_role(tx, name)
    return page(request, viewer, "console/admin_role.html", status=status, role=role,
                groups=permission_groups(), errors=errors or {})


@router.post("/admin/roles/{name}")
def update_role(request: Request, viewer: CurrentViewer, form: PostedForm,
                name: str) -> Response:
    td = tokendesk(request)
    try:
        if form.text("action") == "delete":
            viewer.principal.require(Permission.MANAGE_ROLES)
            if not confirmed(form):
                return redirect(path_of("admin", "roles", name, "delete"))
            with td.transaction() as tx:
                td.accounts.delete_role(tx, viewer.principal, name)
            notify(request, viewer, "ok", f"The role '{name}' was deleted.")
            return redirect("/admin/roles")
        data = build_input(RoleUpdate, _role_values(form))
        with td.transaction() as tx:
            role = td.accounts.update_role(tx, viewer.principal, name, data)
    except (ValidationError, DuplicateName, PermissionDenied) as exc:
        field = "permissions" if isinstance(exc, PermissionDenied) else "name"
        return _role_page(request, viewer, name, errors=_field_error(exc, field),
                          status=exc.status)
    notify(request, viewer, "ok", f"The role '{role.name}' was saved.")
    return redirect(path_of("admin", "roles", role.name))
