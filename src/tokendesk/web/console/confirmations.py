"""Confirmation pages before the console's destructive actions: Disconnect (a shared token),
Delete role, Disable user, Reset password and Revoke API key.

Each page says what the action breaks (how many users and bots) and posts the action with
``confirmed=yes``; the action's own route sends a post without it here first. The REST API
and the CLI act at once, as they always did: confirming is a step of the console.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokendesk.domain.connections import GrantType
from tokendesk.domain.permissions import Permission
from tokendesk.services.impact import Impact
from tokendesk.web.console.base import (
    ConsoleRoute,
    CurrentViewer,
    Form,
    Viewer,
    page,
    path_of,
    tokendesk,
    when,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
CONFIRMED = "confirmed"


def confirmed(form: Form) -> bool:
    """True when the post comes from a confirmation page."""
    return form.text(CONFIRMED) == "yes"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def who_uses(impact: Impact) -> str:
    """``3 users of its invited roles use it, 2 of them bots with an API key.``"""
    if impact.users == 0:
        return "No enabled user of its invited roles uses it now."
    bots = f", {impact.bots} of them {'a bot' if impact.bots == 1 else 'bots'} with an API key" \
        if impact.bots else ", none of them with an API key"
    verb = "uses" if impact.users == 1 else "use"
    return f"{_count(impact.users, 'user', 'users')} of its invited roles {verb} it{bots}."


def confirm_page(request: Request, viewer: Viewer, *, heading: str, consequences: list[str],
                 action: str, button: str, cancel: str, fields: dict[str, str] | None = None,
                 errors: dict[str, str] | None = None, status: int = 200,
                 password_field: bool = False) -> Response:
    return page(request, viewer, "console/confirm.html", status=status, heading=heading,
                consequences=consequences, action=action, button=button, cancel=cancel,
                fields=fields or {}, errors=errors or {}, password_field=password_field)


@router.get("/connections/{name}/disconnect")
def confirm_disconnect(request: Request, viewer: CurrentViewer, name: str) -> Response:
    td = tokendesk(request)
    with td.transaction() as tx:
        connection = td.connections.get(tx, viewer.principal, name)
        impact = td.impact.of_shared_token(tx, viewer.principal, connection.name)
    here = path_of("connections", connection.name)
    return confirm_page(
        request, viewer, heading=f"Disconnect the shared token of “{connection.name}”?",
        consequences=[
            "The shared token is revoked at the provider and deleted here.",
            who_uses(impact),
            "Until someone authenticates the shared token again, every request for it fails."
            if connection.grant_type is GrantType.AUTHORIZATION_CODE else
            "The next request for it gets a new token from the provider with the client "
            "credentials.",
        ],
        action=path_of("connections", connection.name, "disconnect"),
        button="Disconnect shared token", cancel=here)


@router.get("/admin/roles/{name}/delete")
def confirm_delete_role(request: Request, viewer: CurrentViewer, name: str) -> Response:
    td = tokendesk(request)
    with td.transaction() as tx:
        role = td.accounts.get_role(tx, name)
        impact = td.impact.of_role(tx, viewer.principal, role.name)
    invites = (f"{_count(len(impact.connections), 'connection stops', 'connections stop')} "
               f"inviting it: {', '.join(impact.connections)}; its users can no longer get "
               "tokens there." if impact.connections else "No connection invites it.")
    holders = (f"{_count(impact.users, 'user loses', 'users lose')} its permissions now"
               f"{f', {impact.bots} of them with an API key' if impact.bots else ''}."
               if impact.users else "No enabled user holds it.")
    return confirm_page(
        request, viewer, heading=f"Delete the role “{role.name}”?",
        consequences=[holders, invites, "This cannot be undone."],
        action=path_of("admin", "roles", role.name), fields={"action": "delete"},
        button="Delete role", cancel=path_of("admin", "roles", role.name))


@router.get("/admin/users/{username}/disable")
def confirm_disable_user(request: Request, viewer: CurrentViewer, username: str) -> Response:
    td = tokendesk(request)
    with td.transaction() as tx:
        user = td.accounts.get_user(tx, username)
        impact = td.impact.of_user(tx, viewer.principal, user.username)
    keys = (f"{_count(impact.api_keys, 'API key of this user stops', 'API keys of this user stop')}"
            f" working at once: bots using {'it' if impact.api_keys == 1 else 'them'} get 401."
            if impact.api_keys
            else "This user has no API key.")
    return confirm_page(
        request, viewer, heading=f"Disable the user “{user.username}”?",
        consequences=[f"{user.username} cannot sign in any more; the sessions open now end.",
                      keys, "You can enable the user again later."],
        action=path_of("admin", "users", user.username), fields={"action": "disable"},
        button="Disable user", cancel=path_of("admin", "users", user.username))


def reset_password_page(request: Request, viewer: Viewer, username: str, *,
                        errors: dict[str, str] | None = None, status: int = 200) -> Response:
    """Reset another user's password: the new password is typed on this confirmation page."""
    viewer.principal.require(Permission.MANAGE_USERS)
    td = tokendesk(request)
    with td.transaction() as tx:
        user = td.accounts.get_user(tx, username)
    return confirm_page(
        request, viewer, heading=f"Reset the password of “{user.username}”?",
        consequences=[f"{user.username} signs in with the new password from now on; the "
                      "sessions open now end.", "Tell the user the new password in person "
                      "or through a channel you trust; their API keys keep working."],
        action=path_of("admin", "users", user.username), fields={"action": "password"},
        button="Reset password", cancel=path_of("admin", "users", user.username),
        errors=errors, status=status, password_field=True)


@router.get("/admin/users/{username}/password")
def confirm_reset_password(request: Request, viewer: CurrentViewer, username: str) -> Response:
    return reset_password_page(request, viewer, username)


@router.get("/api-keys/{key_id}/revoke")
def confirm_revoke_key(request: Request, viewer: CurrentViewer, key_id: str) -> Response:
    td = tokendesk(request)
    with td.transaction() as tx:
        key, owner = td.impact.api_key(tx, viewer.principal, key_id)
    used = (f"It was last used {when(key.last_used_at)}." if key.last_used_at
            else "It was never used.")
    return confirm_page(
        request, viewer, heading=f"Revoke the API key “{key.name}”?",
        consequences=[f"Every bot or script that sends td_{key.prefix}… (acting as {owner}) "
                      "gets 401 from now on.", used, "This cannot be undone; a new key has "
                      "to be created and given to them."],
        action=path_of("api-keys", key.id, "revoke"), button="Revoke API key",
        cancel="/api-keys")
