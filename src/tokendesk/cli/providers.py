"""``tokendesk providers``: the catalog of providers a connection can be registered for."""

from __future__ import annotations

from typing import Annotated

import typer

from tokendesk.cli.context import JsonFlag, cell, emit, open_tokendesk, print_table
from tokendesk.views import ProviderOut

HELP = "Read the provider catalog."


def list_providers(as_json: JsonFlag = False) -> None:
    """List the providers: key, name, grant types and the placeholders to fill in."""
    with open_tokendesk() as td:
        providers = [ProviderOut.of(p) for p in td.catalog.providers()]
    if as_json:
        emit(providers, as_json=True)
        return
    print_table(
        [{"key": p.key, "name": p.name, "grant_types": p.grant_types,
          "placeholders": [f"<{x.name}>" for x in p.placeholders]} for p in providers],
        ("key", "name", "grant_types", "placeholders"),
    )


def show(
    key: Annotated[str, typer.Argument(metavar="KEY", help="Provider key, e.g. salesforce.")],
    as_json: JsonFlag = False,
) -> None:
    """Show a provider: URL templates, placeholders, suggested scopes, presets and notes."""
    with open_tokendesk() as td:
        provider = ProviderOut.of(td.catalog.get(key))
    if as_json:
        emit(provider, as_json=True)
        return
    _describe(provider)


def _describe(p: ProviderOut) -> None:
    lines = [
        f"{cell(p.name)} ({p.key})",
        f"  grant types:        {cell(p.grant_types)}",
        f"  authorization URL:  {cell(p.authorization_url or None)}",
        f"  token URL:          {cell(p.token_url or None)}",
        f"  revocation URL:     {cell(p.revocation_url)}",
        f"  PKCE:               {'allowed' if p.pkce else 'not allowed'}",
        f"  client auth:        {p.client_auth_method}",
        f"  suggested scopes:   {cell(p.default_scopes)}",
    ]
    if p.placeholders:
        lines.append("  placeholders:")
        lines += [f"    <{x.name}>  {cell(x.label)}: {cell(x.help)}" for x in p.placeholders]
    if p.scope_presets:
        lines.append("  scope presets:")
        lines += [f"    {cell(name)}: {cell(scopes)}" for name, scopes in p.scope_presets.items()]
    if p.notes:
        lines.append("  notes:")
        lines += [f"    - {cell(note)}" for note in p.notes]
    for line in lines:
        typer.echo(line)
