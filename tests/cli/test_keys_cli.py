"""API keys from the command line: printed once, stored hashed, revocable."""

from __future__ import annotations

import pytest

from support.cli import Cli, one_error_line
from tokendesk.errors import InvalidCredentials
from tokendesk.views.accounts import ApiKeyOut, NewApiKeyOut
from tokendesk.wiring import Tokendesk


def authenticates_as(td: Tokendesk, key: str) -> str:
    with td.transaction() as tx:
        return td.auth.authenticate_api_key(tx, key).username


def test_keys_create_json_prints_a_key_that_authenticates_as_the_user(
    admin_cli: Cli, td: Tokendesk
) -> None:
    body = admin_cli.json("keys", "create", "--user", "admin", "--name", "ci")

    assert set(body) == set(NewApiKeyOut.model_fields)
    assert (body["user"], body["name"], body["revoked_at"]) == ("admin", "ci", None)
    assert body["key"].startswith(body["prefix"] + "_")
    assert authenticates_as(td, body["key"]) == "admin"


def test_keys_create_prints_the_key_alone_on_stdout_and_says_it_is_shown_once(
    admin_cli: Cli, td: Tokendesk
) -> None:
    result = admin_cli.ok("keys", "create", "--user", "admin", "--name", "deploy bot")

    [key] = result.stdout.splitlines()
    assert authenticates_as(td, key) == "admin"
    assert "only time the key is shown" in result.stderr
    assert key not in admin_cli.ok("keys", "list").stdout
    assert key not in admin_cli.ok("keys", "list", "--json").stdout
    assert key not in admin_cli.ok("audit", "--json").stdout


def test_keys_list_and_revoke_by_prefix(admin_cli: Cli, td: Tokendesk) -> None:
    created = admin_cli.json("keys", "create", "--user", "admin", "--name", "ci")

    listed = admin_cli.json("keys", "list")
    table = admin_cli.ok("keys", "list").stdout
    revoked = admin_cli.ok("keys", "revoke", created["prefix"])

    assert [k["name"] for k in listed] == ["ci"]
    assert set(listed[0]) == set(ApiKeyOut.model_fields)
    assert created["prefix"] in table
    assert f"API key 'ci' ({created['prefix']}) revoked." in revoked.stdout
    assert admin_cli.json("keys", "list")[0]["revoked_at"] is not None
    with pytest.raises(InvalidCredentials):
        authenticates_as(td, created["key"])


def test_keys_errors(admin_cli: Cli) -> None:
    unknown_user = admin_cli("keys", "create", "--user", "nobody", "--name", "ci")
    unknown_key = admin_cli("keys", "revoke", "td_000000000000")
    no_user = admin_cli("keys", "create", "--name", "ci")

    assert unknown_user.exit_code == 3
    assert "no user named 'nobody'" in one_error_line(unknown_user)
    assert unknown_key.exit_code == 3
    assert "no API key" in one_error_line(unknown_key)
    assert no_user.exit_code == 2
