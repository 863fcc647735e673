"""``tokendesk roles``: custom roles and the permissions they grant, by feature."""

from __future__ import annotations

from typing import Annotated

import typer

from tokendesk.cli.context import JsonFlag, confirm, emit, open_tokendesk, operator
from tokendesk.domain.permissions import Permission
from tokendesk.errors import ValidationError
from tokendesk.services.inputs import RoleCreate, RoleUpdate
from tokendesk.views.accounts import RoleOut

PERMISSIONS_HELP = "Permissions: " + "; ".join(f"{p.value} = {p.label}" for p in Permission) + "."

SHORT_HELP = "Manage roles and the permissions they grant."
HELP = SHORT_HELP + " " + PERMISSIONS_HELP

COLUMNS = ("name", "system", "permissions", "description")
RoleName = Annotated[str, typer.Argument(metavar="NAME", help="The role's name.")]
Permissions = Annotated[list[Permission] | None, typer.Option(
    "--permission", metavar="PERMISSION",
    help="A permission the role grants (repeat). " + PERMISSIONS_HELP)]


def list_roles(
    custom_only: Annotated[bool, typer.Option(
        "--custom-only", help="Only custom roles (those a connection can invite).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List system and custom roles with their permissions."""
    with open_tokendesk() as td, td.transaction() as tx:
        roles = td.accounts.list_roles(tx, operator(), custom_only=custom_only)
    emit([RoleOut.of(r) for r in roles], as_json, COLUMNS)


def create(
    name: RoleName,
    description: Annotated[str, typer.Option("--description")] = "",
    permission: Permissions = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a custom role."""
    data = RoleCreate(name=name, description=description, permissions=permission or [])
    with open_tokendesk() as td, td.transaction() as tx:
        role = td.accounts.create_role(tx, operator(), data)
    emit(RoleOut.of(role), as_json)


def edit(
    name: RoleName,
    new_name: Annotated[str | None, typer.Option("--name", help="Rename the role.")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    permission: Annotated[list[Permission] | None, typer.Option(
        "--permission", metavar="PERMISSION",
        help="Replace the role's permissions with these (repeat). " + PERMISSIONS_HELP)] = None,
    no_permissions: Annotated[bool, typer.Option(
        "--no-permissions", help="Take every permission away.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Change a custom role; what is not given stays. System roles cannot change."""
    if permission and no_permissions:
        raise ValidationError("Give --permission or --no-permissions, not both.",
                              field="permissions")
    data = RoleUpdate(name=new_name, description=description,
                      permissions=[] if no_permissions else (permission or None))
    with open_tokendesk() as td, td.transaction() as tx:
        role = td.accounts.update_role(tx, operator(), name, data)
    emit(RoleOut.of(role), as_json)


def delete(
    name: RoleName,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a custom role: its users lose it and connections stop inviting it."""
    if not yes:
        confirm(f"Delete the role '{name}'?", what="the role")
    with open_tokendesk() as td, td.transaction() as tx:
        td.accounts.delete_role(tx, operator(), name)
    typer.echo(f"Role '{name}' deleted.")
