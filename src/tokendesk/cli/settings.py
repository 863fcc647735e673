"""``tokendesk settings proxy``: the forward proxy used for every call to a provider;
``tokendesk settings egress``: the egress allowlist (non-public addresses Tokendesk may call)."""

from __future__ import annotations

from collections.abc import Callable
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
from tokendesk.domain.egress import allowlist_entries
from tokendesk.errors import ValidationError
from tokendesk.services.inputs import EgressAllowlistInput, ProxySettingsInput
from tokendesk.views.settings import EgressAllowlistOut, ProxyOut

HELP = "Global settings."
PROXY_HELP = "The forward proxy for outbound calls to providers."
EGRESS_HELP = ("The egress allowlist: hosts and CIDR ranges Tokendesk may call although they are "
               "loopback, private or link-local. TOKENDESK_EGRESS_ALLOWLIST adds to it.")


def show(as_json: JsonFlag = False) -> None:
    """Show the forward proxy settings (whether a password is stored, never the password)."""
    with open_tokendesk() as td, td.transaction() as tx:
        current = td.proxy.get(tx, operator())
    emit(ProxyOut.of(current), as_json)


def set_proxy(
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled")] = None,
    host: Annotated[str | None, typer.Option("--host")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535)] = None,
    scheme: Annotated[str | None, typer.Option("--scheme", help="http or https.")] = None,
    auth: Annotated[str | None, typer.Option("--auth", help="none or basic.")] = None,
    username: Annotated[str | None, typer.Option("--username")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the proxy password from one line of standard input.")
    ] = False,
    new_password: Annotated[bool, typer.Option(
        "--new-password", help="Type the proxy password at a hidden prompt.")] = False,
    bypass: Annotated[str | None, typer.Option(
        "--bypass", help='No-proxy list, comma-separated: "localhost,*.corp,10.0.0.0/8".')
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change the forward proxy; options not given keep their current value, and the
    stored password stays unless a new one is given."""
    if password_stdin and new_password:
        raise ValidationError("Give --password-stdin or --new-password, not both.",
                              field="password")
    password = (SecretStr(read_secret("Proxy password", password_stdin,
                                          stdin_option="--password-stdin"))
                if password_stdin or new_password else None)
    with open_tokendesk() as td, td.transaction() as tx:
        current = ProxyOut.of(td.proxy.get(tx, operator()))
        data = ProxySettingsInput(
            enabled=current.enabled if enabled is None else enabled,
            scheme=scheme if scheme is not None else current.scheme,
            host=host if host is not None else current.host,
            port=port if port is not None else current.port,
            auth=auth if auth is not None else current.auth,
            username=username if username is not None else current.username,
            password=password,
            bypass=bypass if bypass is not None else current.bypass,
        )
        saved = td.proxy.save(tx, operator(), data)
    emit(ProxyOut.of(saved), as_json)


Entries = Annotated[list[str], typer.Argument(
    help="Host names, IP addresses or CIDR ranges (each may be comma-separated).")]


def show_egress(as_json: JsonFlag = False) -> None:
    """Show the stored allowlist and the part that comes from the environment."""
    with open_tokendesk() as td, td.transaction() as tx:
        current = td.egress.get(tx, operator())
    emit(EgressAllowlistOut.of(current), as_json)


def set_egress(entries: Annotated[list[str] | None, typer.Argument(
        help="The whole stored allowlist; none given empties it.")] = None,
               as_json: JsonFlag = False) -> None:
    """Replace the stored allowlist (the environment's part stays)."""
    _save_egress(lambda _current: list(entries or []), as_json)


def add_egress(entries: Entries, as_json: JsonFlag = False) -> None:
    """Add entries to the stored allowlist."""
    _save_egress(lambda current: [*current, *entries], as_json)


def remove_egress(entries: Entries, as_json: JsonFlag = False) -> None:
    """Remove entries from the stored allowlist (an entry that is not stored is an error)."""
    def without(current: list[str]) -> list[str]:
        gone = set(allowlist_entries(entries, field="allowlist"))
        missing = sorted(gone - set(current))
        if missing:
            raise ValidationError(f"'{missing[0]}' is not in the stored egress allowlist.",
                                  field="allowlist")
        return [e for e in current if e not in gone]
    _save_egress(without, as_json)


def _save_egress(change: Callable[[list[str]], list[str]], as_json: bool) -> None:
    with open_tokendesk() as td, td.transaction() as tx:
        current = list(td.egress.get(tx, operator()).stored)
        saved = td.egress.save(tx, operator(), EgressAllowlistInput(allowlist=change(current)))
    emit(EgressAllowlistOut.of(saved), as_json)
