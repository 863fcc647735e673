"""Tokens from the command line: test, consent links, status, refresh, disconnect, and
``tokendesk token NAME`` printing a valid access token for scripts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal

import typer

from tokendesk.cli.connections import ConnectionName
from tokendesk.cli.context import JsonFlag, emit, open_tokendesk, operator, report
from tokendesk.cli.exit_codes import FAILED_TEST_EXIT_CODE, exit_code_for_code
from tokendesk.client import AccessToken, Client
from tokendesk.client import TokendeskError as ClientError
from tokendesk.domain.principal import Principal, Via
from tokendesk.domain.tokens import TokenKind
from tokendesk.errors import AuthenticationRequired, ValidationError
from tokendesk.tokens.consent_flow import Purpose
from tokendesk.tokens.states import TokenStates
from tokendesk.views.tokens import FlowLinkOut, TokenStatusOut, VerdictOut
from tokendesk.wiring import Tokendesk

TokenType = Literal["shared", "user"]
TypeOption = Annotated[TokenType, typer.Option("--type", help="shared or user.")]
UserOption = Annotated[str | None, typer.Option(
    "--user", help="Act as this user (needed for user-specific tokens).")]
STATUS_COLUMNS = ("kind", "user_id", "state_label", "valid_until", "reason", "action")


def _acting(td: Tokendesk, username: str | None) -> Principal:
    if username is None:
        return operator()
    with td.transaction() as tx:
        return td.auth.principal_for(tx, td.accounts.get_user(tx, username), Via.CLI)


def test_connection(name: ConnectionName, save_credentials: Annotated[bool, typer.Option(
        "--save-credentials", help="Keep the result as the connection's shared token.")] = False,
        user: UserOption = None, as_json: JsonFlag = False) -> None:
    """Test a connection: a real token request, or a link to consent at the provider."""
    with open_tokendesk() as td:
        actor = _acting(td, user)
        verdict = td.tester.test(actor, name, save_credentials=save_credentials)
    emit(VerdictOut.of(verdict), as_json)
    if verdict.ok is False:
        raise typer.Exit(FAILED_TEST_EXIT_CODE)


def authorize(name: ConnectionName,
              user: Annotated[str, typer.Option("--user", help="Who consents.")],
              token_type: TypeOption = "user", as_json: JsonFlag = False) -> None:
    """Print a one-time link that starts the consent in the browser that opens it."""
    purpose = Purpose.SHARED if token_type == "shared" else Purpose.USER
    with open_tokendesk() as td:
        actor = _acting(td, user)
        with td.transaction() as tx:
            link = td.consent.create_link(tx, actor, name, purpose)
    if as_json:
        emit(FlowLinkOut(url=link.url, expires_at=link.expires_at), True)
    else:
        typer.echo(link.url)
        typer.echo(f"Open it in a browser before {link.expires_at:%H:%M} UTC; it works once.",
                   err=True)


def token_statuses(name: ConnectionName, as_json: JsonFlag = False) -> None:
    """Show the state of each token of a connection (never the token itself)."""
    with open_tokendesk() as td, td.transaction() as tx:
        found = TokenStates(td.tokens).described(tx, operator(), name)
    emit([TokenStatusOut.of(d.token, d.words) for d in found], as_json, STATUS_COLUMNS)


def refresh(name: ConnectionName, token_type: TypeOption = "shared", user: UserOption = None,
            as_json: JsonFlag = False) -> None:
    """Refresh a token now, and say whether it was (a back-off sends nothing)."""
    with open_tokendesk() as td:
        outcome = TokenStates(td.tokens).refresh_now(_acting(td, user), name,
                                                     TokenKind(token_type))
    if not as_json:
        typer.echo(outcome.message)
    shown = TokenStatusOut.of(outcome.token, outcome.words)
    emit(shown.model_copy(update={"refreshed": outcome.refreshed, "message": outcome.message}),
         as_json)


def disconnect(name: ConnectionName, token_type: TypeOption = "shared",
               user: UserOption = None) -> None:
    """Forget a token, revoking it at the provider where it has a revocation endpoint."""
    with open_tokendesk() as td:
        note = td.tokens.disconnect(_acting(td, user), name, TokenKind(token_type))
    said = f"The {token_type} token of '{name}' is disconnected."
    typer.echo(f"{said} {note}" if note else said)


def token(name: ConnectionName, token_type: TypeOption = "shared",
          url: Annotated[str, typer.Option("--url", envvar="TOKENDESK_URL",
                                           help="Tokendesk's address.")] = "http://127.0.0.1:8400",
          workload_token_file: Annotated[Path | None, typer.Option(
              "--workload-token-file", metavar="PATH",
              help="Exchange the workload token in this file (a Kubernetes projected token, "
                   "a CI job's OIDC token) instead of using an API key.")] = None,
          as_json: JsonFlag = False) -> None:
    """Print a valid access token of a connection, for scripts (API key in TOKENDESK_API_KEY,
    or a workload token with --workload-token-file, exchanged by RFC 8693).

    Errors exit with the code of the API's error in the one exit-code table."""
    api_key = os.environ.get("TOKENDESK_API_KEY", "")
    if workload_token_file is not None:
        if not workload_token_file.is_file():
            raise ValidationError(f"There is no workload token file at {workload_token_file}.",
                                  field="workload_token_file")
        api_key = ""
    elif not api_key:
        raise AuthenticationRequired("Set TOKENDESK_API_KEY to the bot's API key, or give "
                                     "--workload-token-file.")
    got = _fetch(url, api_key, name, token_type, workload_token_file)
    if as_json:
        typer.echo(json.dumps({"access_token": got.access_token, "token_type": got.token_type,
                               "expires_at": got.expires_at.isoformat() if got.expires_at
                               else None, "scope": got.scope,
                               "provider_fields": got.provider_fields}, indent=2))
    else:
        typer.echo(got.access_token)


def _fetch(url: str, api_key: str, name: str, token_type: TokenType,
           workload_token_file: Path | None = None) -> AccessToken:
    """The token from Tokendesk at ``url``, as a bot gets it (through the SDK)."""
    try:
        client = Client(url, api_key) if workload_token_file is None else \
            Client.from_workload_identity(url, token_file=workload_token_file)
        with client:
            return client.get_token(name, token_type)
    except ValueError as exc:  # not an http(s) address
        raise ValidationError(str(exc), field="url") from None
    except ClientError as exc:
        hint = f" Authenticate at {exc.authenticate_url}" if exc.authenticate_url else ""
        raise report(f"error: {exc.message}{hint}", exit_code_for_code(exc.code)) from None
