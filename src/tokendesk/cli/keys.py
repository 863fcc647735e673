"""``tokendesk keys``: API keys for bots and scripts (shown once, stored hashed)."""

from __future__ import annotations

from typing import Annotated

import typer

from tokendesk.cli.context import JsonFlag, emit, open_tokendesk, operator
from tokendesk.services.inputs import ApiKeyCreate
from tokendesk.views.accounts import ApiKeyOut, NewApiKeyOut

HELP = "Create, list and revoke API keys; rotate the encryption key."

COLUMNS = ("id", "prefix", "name", "user", "created_at", "last_used_at", "revoked_at")


def create(
    user: Annotated[str, typer.Option("--user", help="Username the key acts as.")],
    name: Annotated[str, typer.Option("--name", help="A label, e.g. the bot's name.")],
    as_json: JsonFlag = False,
) -> None:
    """Create an API key and print it, once: it cannot be shown again."""
    with open_tokendesk() as td, td.transaction() as tx:
        created = td.auth.create_api_key(tx, operator(), ApiKeyCreate(name=name, user=user))
        owners = td.accounts.usernames(tx)
    shown = ApiKeyOut.of(created.record, owners.get(created.record.user_id, ""))
    if as_json:
        emit(NewApiKeyOut(key=created.key, **shown.model_dump()), as_json=True)
        return
    typer.echo(created.key)
    typer.echo(f"API key '{shown.name}' ({shown.prefix}) for '{shown.user}' created. "
               "This is the only time the key is shown; store it now.", err=True)


def list_keys(as_json: JsonFlag = False) -> None:
    """List API keys (never the keys themselves)."""
    with open_tokendesk() as td, td.transaction() as tx:
        keys, owners = td.auth.list_api_keys(tx, operator()), td.accounts.usernames(tx)
    emit([ApiKeyOut.of(k, owners.get(k.user_id, "")) for k in keys], as_json, COLUMNS)


def revoke(
    key: Annotated[str, typer.Argument(metavar="ID_OR_PREFIX",
                                       help="The key's id or prefix (td_...).")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke an API key: it stops working at once."""
    with open_tokendesk() as td, td.transaction() as tx:
        revoked, owners = td.auth.revoke_api_key(tx, operator(), key), td.accounts.usernames(tx)
    shown = ApiKeyOut.of(revoked, owners.get(revoked.user_id, ""))
    if as_json:
        emit(shown, as_json=True)
    else:
        typer.echo(f"API key '{shown.name}' ({shown.prefix}) revoked.")
