"""Issue 12 from the command line: ``providers show`` tells the defaults per grant type, and a
connection created from them sends what the provider accepts."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import httpx

from support.cli import PUBLIC_URL, Cli, one_error_line
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.domain.principal import command_line_principal
from tokendesk.oauth.outbound import Outbound
from tokendesk.wiring import build

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


def section(described: str, grant_type: str) -> str:
    """The lines of ``providers show`` under ``  <grant_type>:``."""
    lines = described.splitlines()
    start = lines.index(f"  {grant_type}:")
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("    ")),
               len(lines))
    return "\n".join(lines[start:end])


def test_providers_show_tells_the_defaults_of_each_grant_type(cli: Cli) -> None:
    described = cli.ok("providers", "show", "microsoft_entra").stdout

    code_flow = section(described, "authorization_code")
    credentials = section(described, "client_credentials")
    assert f"default scopes:   offline_access, openid, {GRAPH_DEFAULT}" in code_flow
    assert f"default scopes:   {GRAPH_DEFAULT}\n" in credentials + "\n"
    assert "you supply:       client ID, client secret, <tenant>" in credentials
    assert "offline_access so tokens refresh" in code_flow
    assert "offline_access so tokens refresh" not in credentials
    assert "documentation:      https://learn.microsoft.com/" in described


def test_providers_show_tells_what_must_be_supplied_and_refresh_token_lifetimes(
    cli: Cli,
) -> None:
    google = cli.ok("providers", "show", "google_workspace").stdout
    jira = cli.ok("providers", "show", "jira").stdout

    assert "you supply:       client ID, client secret, at least one scope" in google
    assert "authorization parameters: access_type=offline, prompt=consent" in google
    assert "refresh tokens expire: unused 180 days, app in testing 7 days" in google
    assert "refresh tokens expire: absolute 365 days, unused 90 days" in jira


def test_providers_show_json_has_the_grants(cli: Cli) -> None:
    sharepoint = cli.json("providers", "show", "sharepoint")

    assert sharepoint["grants"]["client_credentials"]["default_scopes"] == [
        "https://<domain-name>/.default"]
    assert sharepoint["grants"]["client_credentials"]["placeholders"] == [
        "tenant-id", "domain-name"]


def test_an_entra_client_credentials_connection_from_the_cli_sends_only_the_default_scope(
    cli: Cli,
) -> None:
    cli.ok("connections", "create", "--name", "Graph", "--provider", "microsoft_entra",
           "--grant-type", "client_credentials", "--client-id", "desk-client",
           "--placeholder", "tenant=contoso.onmicrosoft.com", "--client-secret-stdin",
           input="s3cret\n")
    sent: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer",
                                         "expires_in": 3600})

    td = build(Settings(
        database_url=cli.env["TOKENDESK_DATABASE_URL"],
        data_dir=Path(cli.env["TOKENDESK_DATA_DIR"]),
        encryption_keys=cli.env["TOKENDESK_ENCRYPTION_KEYS"],  # type: ignore[arg-type]
        public_url=PUBLIC_URL,
    ), outbound=Outbound(transport=httpx.MockTransport(token_endpoint)),
        passwords=CHEAP_PASSWORDS)
    try:
        verdict = td.tester.test(command_line_principal(), "Graph", save_credentials=False)
    finally:
        td.close()

    assert verdict.ok, verdict.message
    [request] = sent
    form = parse_qs(request.content.decode())
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == [GRAPH_DEFAULT]
    assert cli.json("connections", "show", "Graph")["scopes"] == [GRAPH_DEFAULT]


def test_a_google_workspace_connection_without_a_scope_is_refused(cli: Cli) -> None:
    result = cli("connections", "create", "--name", "Calendar", "--provider",
                 "google_workspace", "--grant-type", "authorization_code",
                 "--client-id", "c", "--client-secret-stdin", input="s\n")

    assert result.exit_code == 2
    assert "Enter at least one scope" in one_error_line(result)
    assert cli.json("connections", "list") == []
