"""``tokendesk users``: local users, their roles, passwords and whether they may sign in."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import SecretStr

from tokendesk.cli.context import (
    JsonFlag,
    emit,
    open_tokendesk,
    operator,
    read_secret,
)
from tokendesk.errors import ValidationError
from tokendesk.services.inputs import UserCreate, UserUpdate
from tokendesk.views.accounts import UserOut

HELP = "Manage users."

COLUMNS = ("username", "display_name", "roles", "disabled", "created_at")
Username = Annotated[str, typer.Argument(metavar="USERNAME", help="The user's username.")]
Roles = Annotated[list[str] | None, typer.Option(
    "--role", metavar="ROLE", help="A role of the user (repeat for several).")]
PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from one line of standard input.")]


def list_users(as_json: JsonFlag = False) -> None:
    """List users and their roles."""
    with open_tokendesk() as td, td.transaction() as tx:
        users, names = td.accounts.list_users(tx, operator()), td.accounts.role_names(tx)
    emit([UserOut.of(u, names) for u in users], as_json, COLUMNS)


def create(
    username: Annotated[str, typer.Option("--username", help="Sign-in name.")],
    role: Roles = None,
    display_name: Annotated[str, typer.Option("--display-name")] = "",
    email: Annotated[str | None, typer.Option(
        "--email", help="Where e-mail notifications go.")] = None,
    password_stdin: PasswordStdin = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a user; the password comes from stdin or a hidden prompt (typed twice)."""
    password = read_secret("Password", password_stdin, stdin_option="--password-stdin",
                           confirm=True)
    data = UserCreate(username=username, password=SecretStr(password),
                      display_name=display_name, roles=role or [], email=email)
    with open_tokendesk() as td, td.transaction() as tx:
        user, names = td.accounts.create_user(tx, operator(), data), td.accounts.role_names(tx)
    emit(UserOut.of(user, names), as_json)


def edit(
    username: Username,
    role: Annotated[list[str] | None, typer.Option(
        "--role", metavar="ROLE", help="Replace the user's roles with these (repeat).")] = None,
    no_roles: Annotated[bool, typer.Option("--no-roles", help="Take every role away.")] = False,
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    email: Annotated[str | None, typer.Option(
        "--email", help="Where e-mail notifications go; empty removes it.")] = None,
    password_stdin: PasswordStdin = False,
    new_password: Annotated[bool, typer.Option(
        "--new-password", help="Set a new password, typed at a hidden prompt.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Change a user's roles, display name, e-mail address or password; what is not given
    stays."""
    if role and no_roles:
        raise ValidationError("Give --role or --no-roles, not both.", field="roles")
    password = _new_password(password_stdin, new_password)
    data = UserUpdate(display_name=display_name, password=password, email=email,
                      roles=[] if no_roles else (role or None))
    _update(username, data, as_json)


def disable(username: Username, as_json: JsonFlag = False) -> None:
    """Disable a user: no sign-in, and the user's API keys stop working."""
    _update(username, UserUpdate(disabled=True), as_json)


def enable(username: Username, as_json: JsonFlag = False) -> None:
    """Enable a disabled user again."""
    _update(username, UserUpdate(disabled=False), as_json)


def _update(username: str, data: UserUpdate, as_json: bool) -> None:
    with open_tokendesk() as td, td.transaction() as tx:
        user = td.accounts.update_user(tx, operator(), username, data)
        names = td.accounts.role_names(tx)
    emit(UserOut.of(user, names), as_json)


def _new_password(from_stdin: bool, prompt: bool) -> SecretStr | None:
    if from_stdin and prompt:
        raise ValidationError("Give --password-stdin or --new-password, not both.",
                              field="password")
    if not (from_stdin or prompt):
        return None
    return SecretStr(read_secret("New password", from_stdin, stdin_option="--password-stdin",
                                 confirm=True))
