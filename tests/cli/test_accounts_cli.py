"""Users and roles from the command line; passwords come from stdin or a hidden prompt."""

from __future__ import annotations

import pytest

from support.api import ADMIN_PASSWORD
from support.cli import Cli, one_error_line
from tokendesk.domain.permissions import Permission
from tokendesk.errors import InvalidCredentials
from tokendesk.views.accounts import RoleOut, UserOut
from tokendesk.wiring import Tokendesk

PASSWORD = "a long and careful passphrase"


def signs_in(td: Tokendesk, username: str, password: str) -> bool:
    try:
        with td.transaction() as tx:
            td.auth.sign_in(tx, username, password)
    except InvalidCredentials:
        return False
    return True


def test_roles_are_created_listed_edited_and_deleted(cli: Cli) -> None:
    created = cli.json("roles", "create", "sales-bots", "--description", "Bots of sales",
                       "--permission", "oauth_connections.view")
    cli.ok("roles", "create", "temp")
    edited = cli.json("roles", "edit", "sales-bots", "--name", "crm-bots",
                      "--permission", "oauth_connections.manage")
    emptied = cli.json("roles", "edit", "crm-bots", "--no-permissions")
    custom = cli.json("roles", "list", "--custom-only")
    table = cli.ok("roles", "list").stdout

    assert set(created) == set(RoleOut.model_fields)
    assert created["permissions"] == ["oauth_connections.view"]
    assert edited["permissions"] == ["oauth_connections.manage"]
    assert (edited["description"], emptied["permissions"]) == ("Bots of sales", [])
    assert sorted(r["name"] for r in custom) == ["crm-bots", "temp"]
    assert "Administrator" in table and "crm-bots" in table

    assert cli("roles", "delete", "temp", input="n\n").exit_code == 1
    assert "deleted" in cli.ok("roles", "delete", "temp", input="y\n").stdout
    cli.ok("roles", "delete", "crm-bots", "--yes")
    assert cli.json("roles", "list", "--custom-only") == []


def test_roles_help_names_every_permission(cli: Cli) -> None:
    shown = " ".join(cli.ok("roles", "create", "--help").stdout.split())

    for permission in Permission:
        assert permission.value in shown


def test_role_errors(cli: Cli) -> None:
    cli.ok("roles", "create", "bots")

    system = cli("roles", "edit", "Administrator", "--description", "x")
    duplicate = cli("roles", "create", "BOTS")
    unknown_permission = cli("roles", "create", "x", "--permission", "everything")

    assert system.exit_code == 5
    assert "system role" in one_error_line(system)
    assert duplicate.exit_code == 4
    assert unknown_permission.exit_code == 2


def test_users_are_created_edited_disabled_and_enabled(admin_cli: Cli, td: Tokendesk) -> None:
    admin_cli.ok("roles", "create", "bots")
    created = admin_cli.json("users", "create", "--username", "alice", "--role", "bots",
                             "--display-name", "Alice A.", "--password-stdin",
                             input=PASSWORD + "\n")

    assert set(created) == set(UserOut.model_fields)
    assert (created["roles"], created["display_name"]) == (["bots"], "Alice A.")
    assert signs_in(td, "alice", PASSWORD)

    edited = admin_cli.json("users", "edit", "alice", "--role", "Auditor", "--role", "bots",
                            "--password-stdin", input="another long passphrase\n")
    assert edited["roles"] == ["Auditor", "bots"]
    assert signs_in(td, "alice", "another long passphrase")
    assert not signs_in(td, "alice", PASSWORD)
    assert admin_cli.json("users", "edit", "alice", "--no-roles")["roles"] == []

    assert admin_cli.json("users", "disable", "alice")["disabled"] is True
    assert not signs_in(td, "alice", "another long passphrase")
    assert admin_cli.json("users", "enable", "alice")["disabled"] is False
    assert [u["username"] for u in admin_cli.json("users", "list")] == ["admin", "alice"]
    assert "alice" in admin_cli.ok("users", "list").stdout

    everything = admin_cli.everything_printed
    assert PASSWORD not in everything and "another long passphrase" not in everything


def test_users_create_asks_for_the_password_twice_at_a_hidden_prompt(
    admin_cli: Cli, td: Tokendesk
) -> None:
    result = admin_cli.ok("users", "create", "--username", "bob",
                          input=f"{PASSWORD}\n{PASSWORD}\n")

    assert signs_in(td, "bob", PASSWORD)
    assert PASSWORD not in result.output


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("users", "create", "--username", "admin", "--password-stdin"), 4),
        (("users", "create", "--username", "carol", "--role", "nope", "--password-stdin"), 2),
        (("users", "edit", "nobody", "--display-name", "x"), 3),
        (("users", "edit", "admin", "--no-roles"), 2),
    ],
    ids=["duplicate", "unknown-role", "unknown-user", "last-administrator"],
)
def test_user_errors(admin_cli: Cli, args: tuple[str, ...], code: int) -> None:
    result = admin_cli(*args, input=PASSWORD + "\n")

    assert result.exit_code == code
    one_error_line(result)
    assert PASSWORD not in result.output and ADMIN_PASSWORD not in result.output
