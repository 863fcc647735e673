"""Registering connections from the command line: the secret comes from stdin or a hidden
prompt, is stored encrypted, and never comes back out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer

from support.api import CLIENT_SECRET
from support.cli import PUBLIC_URL, Cli, one_error_line
from tokendesk.cli.main import app
from tokendesk.domain.principal import command_line_principal
from tokendesk.views.connections import ConnectionOut
from tokendesk.wiring import Tokendesk

SALESFORCE = ("connections", "create", "--name", "Salesforce prod", "--provider", "salesforce",
              "--grant-type", "authorization_code", "--client-id", "3MVG9-client-id",
              "--placeholder", "yourinstance=acme", "--scopes", "api,refresh_token,offline_access",
              "--description", "CRM for the sales bots")


def stored_secret(td: Tokendesk, name: str) -> str | None:
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), name)
        secret = td.connections.client_secret(tx, connection)
    return secret.reveal() if secret else None


def test_create_reads_the_secret_from_stdin_stores_it_and_prints_the_api_shape(
    cli: Cli, td: Tokendesk
) -> None:
    cli.ok("roles", "create", "sales-bots")

    body = cli.json(*SALESFORCE, "--invite", "sales-bots", "--client-secret-stdin",
                    input=CLIENT_SECRET + "\n")

    assert set(body) == set(ConnectionOut.model_fields)
    assert body["authorization_url"] == "https://acme.salesforce.com/services/oauth2/authorize"
    assert body["scopes"] == ["api", "refresh_token", "offline_access"]
    assert body["invited_roles"] == ["sales-bots"]
    assert body["callback_url"].startswith(PUBLIC_URL + "/oauth/callback/")  # its own
    assert body["client_secret_stored"] is True
    assert stored_secret(td, "Salesforce prod") == CLIENT_SECRET


def test_create_asks_for_the_secret_at_a_hidden_prompt(cli: Cli, td: Tokendesk) -> None:
    result = cli.ok(*SALESFORCE, input=CLIENT_SECRET + "\n")

    assert "Client secret" in result.output
    assert "Salesforce prod" in result.stdout
    assert stored_secret(td, "Salesforce prod") == CLIENT_SECRET
    nobody_typed = cli(*SALESFORCE[:2], "--name", "Other", *SALESFORCE[4:])
    assert nobody_typed.exit_code == 2
    assert "--client-secret-stdin" in nobody_typed.stderr.strip().splitlines()[-1]


def test_the_client_secret_never_appears_in_any_output(cli: Cli) -> None:
    cli.ok(*SALESFORCE, "--client-secret-stdin", input=CLIENT_SECRET + "\n")
    cli(*SALESFORCE, "--json", "--client-secret-stdin", input=CLIENT_SECRET + "\n")  # duplicate
    for json_flag in ((), ("--json",)):
        cli.ok("connections", "list", *json_flag)
        cli.ok("connections", "show", "salesforce PROD", *json_flag)
        cli.ok("connections", "edit", "Salesforce prod", "--description", "x", *json_flag)
        cli.ok("audit", *json_flag)
    cli.ok("audit", "--jsonl")
    too_long = CLIENT_SECRET * 400
    cli("connections", "edit", "Salesforce prod", "--client-secret-stdin", input=too_long + "\n")

    assert CLIENT_SECRET not in cli.everything_printed


def test_a_secret_cannot_be_given_as_an_argument(cli: Cli) -> None:
    result = cli(*SALESFORCE, "--client-secret", CLIENT_SECRET)

    assert result.exit_code == 2
    assert "No such option" in result.stderr


# Options named after a secret whose value is no secret: the day the client secret expires.
NOT_SECRETS = {"--client-secret-expires-on"}


def test_no_command_takes_a_secret_or_password_as_a_value() -> None:
    def commands(command: Any) -> Iterator[Any]:
        yield command
        for sub in getattr(command, "commands", {}).values():
            yield from commands(sub)

    takes_a_value = [
        (command.name, name)
        for command in commands(typer.main.get_command(app))
        for param in command.params
        for name in param.opts
        if ("secret" in name or "password" in name) and not getattr(param, "is_flag", False)
        and name not in NOT_SECRETS
    ]

    assert takes_a_value == []


def test_edit_without_a_secret_keeps_the_stored_one(cli: Cli, td: Tokendesk) -> None:
    cli.ok(*SALESFORCE, "--client-secret-stdin", input=CLIENT_SECRET + "\n")

    body = cli.json("connections", "edit", "Salesforce prod", "--name", "Salesforce EU",
                    "--scopes", "api", "--no-pkce")

    assert (body["name"], body["scopes"], body["pkce"]) == ("Salesforce EU", ["api"], False)
    assert body["description"] == "CRM for the sales bots"
    assert stored_secret(td, "Salesforce EU") == CLIENT_SECRET


def test_edit_replaces_the_secret_from_stdin_or_a_prompt(cli: Cli, td: Tokendesk) -> None:
    cli.ok(*SALESFORCE, "--client-secret-stdin", input=CLIENT_SECRET + "\n")

    cli.ok("connections", "edit", "Salesforce prod", "--client-secret-stdin", input="second\n")
    assert stored_secret(td, "Salesforce prod") == "second"
    cli.ok("connections", "edit", "Salesforce prod", "--new-client-secret", input="third\n")
    assert stored_secret(td, "Salesforce prod") == "third"
    both = cli("connections", "edit", "Salesforce prod", "--client-secret-stdin",
               "--new-client-secret", input="fourth\n")
    assert both.exit_code == 2
    assert stored_secret(td, "Salesforce prod") == "third"


@pytest.mark.parametrize(("args", "what"), [
    (("--token-url", "https://collector.example.net/token"), "token URL now points"),
    (("--authorization-url", "https://collector.example.net/authorize"),
     "authorization URL now points"),
    (("--placeholder", "yourinstance=evil"),
     "authorization URL, token URL and revocation URL now point"),
])
def test_edit_moving_an_endpoint_to_another_server_needs_the_secret_again(
    cli: Cli, td: Tokendesk, args: tuple[str, ...], what: str
) -> None:
    cli.ok(*SALESFORCE, "--client-secret-stdin", input=CLIENT_SECRET + "\n")
    before = cli.json("connections", "show", "Salesforce prod")

    refused = cli("connections", "edit", "Salesforce prod", *args)
    unchanged = cli.json("connections", "show", "Salesforce prod")
    retyped = cli("connections", "edit", "Salesforce prod", *args, "--client-secret-stdin",
                  input="typed-again\n")

    assert refused.exit_code == 2, refused.output
    assert one_error_line(refused) == (
        f"error (client_secret): The {what} at another server; enter the client secret again.")
    assert unchanged == before
    assert retyped.exit_code == 0, retyped.output
    assert stored_secret(td, "Salesforce prod") == "typed-again"


def test_list_filters_by_provider_and_name_and_prints_a_table(cli: Cli) -> None:
    cli.ok(*SALESFORCE, "--client-secret-stdin", input="s\n")
    cli.ok("connections", "create", "--name", "Service desk", "--provider", "servicenow",
           "--grant-type", "client_credentials", "--client-id", "sn",
           "--placeholder", "yourinstance=dev12345", "--client-secret-stdin", input="s\n")

    table = cli.ok("connections", "list").stdout
    by_provider = cli.json("connections", "list", "--provider", "servicenow")
    by_name = cli.json("connections", "list", "--name", "sales")

    assert table.splitlines()[0].split()[:2] == ["NAME", "PROVIDER"]
    assert "Salesforce prod" in table and "Service desk" in table
    assert [c["name"] for c in by_provider] == ["Service desk"]
    assert [c["name"] for c in by_name] == ["Salesforce prod"]
    assert by_provider[0]["token_url"] == "https://dev12345.service-now.com/oauth_token.do"


def test_delete_asks_first_and_refuses_without_stdin_unless_yes(cli: Cli) -> None:
    cli.ok(*SALESFORCE, "--client-secret-stdin", input="s\n")

    no_stdin = cli("connections", "delete", "Salesforce prod")
    said_no = cli("connections", "delete", "Salesforce prod", input="n\n")
    assert no_stdin.exit_code == 2
    assert no_stdin.stderr.strip().splitlines()[-1].startswith("error: Nothing was deleted")
    assert "--yes" in no_stdin.stderr
    assert said_no.exit_code == 1
    assert len(cli.json("connections", "list")) == 1

    said_yes = cli.ok("connections", "delete", "Salesforce prod", input="y\n")
    assert "Connection 'Salesforce prod' deleted." in said_yes.stdout
    cli.ok(*SALESFORCE, "--client-secret-stdin", input="s\n")
    cli.ok("connections", "delete", "salesforce PROD", "--yes")
    assert cli.json("connections", "list") == []


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("connections", "show", "nope"), 3, "no connection named 'nope'"),
        (("connections", "edit", "nope", "--description", "x"), 3, "no connection"),
        (("connections", "delete", "nope", "--yes"), 3, "no connection"),
        ((*SALESFORCE, "--client-secret-stdin"), 4, "already exists"),
        (("connections", "create", "--name", "Bad", "--provider", "custom", "--grant-type",
          "client_credentials", "--client-id", "c", "--token-url", "http://idp.example.com/t",
          "--client-secret-stdin"), 2, "(token_url)"),
        (("connections", "create", "--name", "Bad", "--provider", "salesforce", "--grant-type",
          "authorization_code", "--client-id", "c", "--client-secret-stdin"), 2, "<yourinstance>"),
        (("connections", "create", "--name", "Bad", "--provider", "nope", "--grant-type",
          "authorization_code", "--client-id", "c", "--client-secret-stdin"), 2, "(provider)"),
        ((*SALESFORCE[:-2], "--placeholder", "acme", "--client-secret-stdin"), 2, "NAME=VALUE"),
        (("connections", "create", "--name", "Long", "--provider", "salesforce", "--grant-type",
          "authorization_code", "--client-id", "c" * 2001, "--client-secret-stdin"), 2,
         "(client_id)"),
    ],
    ids=["show-unknown", "edit-unknown", "delete-unknown", "duplicate", "http-url",
         "unfilled-placeholder", "unknown-provider", "malformed-placeholder", "over-long"],
)
def test_errors_print_one_line_and_exit_with_their_code(
    cli: Cli, args: tuple[str, ...], code: int, words: str
) -> None:
    cli.ok(*SALESFORCE, "--client-secret-stdin", input="s\n")

    result = cli(*args, input="a-secret\n")

    assert result.exit_code == code, result.output
    assert words in one_error_line(result)
    assert result.stdout == ""
