"""``tokendesk providers``: the catalog of providers a connection can be registered for."""

from __future__ import annotations

from typing import Annotated

import typer

from tokendesk.cli.context import JsonFlag, cell, emit, open_tokendesk, print_table
from tokendesk.views.providers import GrantDefaultsOut, ProviderOut, RefreshTokenOut

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
    """Show a provider: URL templates, placeholders, and per grant type the default scopes,
    what you must supply and the notes; its documentation and refresh-token lifetimes."""
    with open_tokendesk() as td:
        provider = ProviderOut.of(td.catalog.get(key))
    if as_json:
        emit(provider, as_json=True)
        return
    for line in _describe(provider):
        typer.echo(line)


def _describe(p: ProviderOut) -> list[str]:
    lines = [
        f"{cell(p.name)} ({p.key})",
        f"  documentation:      {cell(p.documentation_url)}",
        f"  grant types:        {cell(p.grant_types)}",
        f"  authorization URL:  {cell(p.authorization_url or None)}",
        f"  token URL:          {cell(p.token_url or None)}",
        f"  revocation URL:     {cell(p.revocation_url or p.revocation_note)}",
        f"  PKCE:               {'allowed' if p.pkce else 'not allowed'}",
        f"  client auth:        {p.client_auth_method}",
    ]
    if p.placeholders:
        lines.append("  placeholders:")
        for x in p.placeholders:
            lines.append(f"    <{x.name}>  {cell(x.label)}: {cell(x.help)}")
            lines += [f"      {cell(c.value):<26}{cell(c.label)}" for c in x.choices]
    for grant, defaults in p.grants.items():
        lines += _describe_grant(grant, defaults)
    if p.scope_presets:
        lines.append("  scope presets:")
        lines += [f"    {cell(name)}: {cell(scopes)}" for name, scopes in p.scope_presets.items()]
    if p.notes:
        lines.append("  notes:")
        lines += [f"    - {cell(note)}" for note in p.notes]
    if p.refresh_token_lifetimes:
        lines += _describe_refresh_token(p.refresh_token_lifetimes)
    return lines


def _describe_grant(grant: str, d: GrantDefaultsOut) -> list[str]:
    supply = ["client ID", "client secret", *(f"<{name}>" for name in d.placeholders)]
    if d.scopes_required:
        supply.append("at least one scope")
    lines = [
        f"  {grant}:",
        f"    default scopes:   {cell(d.default_scopes)}",
        f"    you supply:       {', '.join(supply)}",
    ]
    if d.authorization_params:
        params = [f"{k}={v}" for k, v in d.authorization_params.items()]
        lines.append(f"    authorization parameters: {cell(params)}")
    lines += [f"    - {cell(note)}" for note in d.notes]
    return lines


def _describe_refresh_token(r: RefreshTokenOut) -> list[str]:
    figures = [
        f"{label} {days} days"
        for label, days in (
            ("absolute", r.absolute_lifetime_days),
            ("unused", r.inactivity_lifetime_days),
            ("app in testing", r.testing_app_lifetime_days),
        )
        if days
    ]
    return [f"  refresh tokens expire: {', '.join(figures)} ({cell(r.source)})"]
