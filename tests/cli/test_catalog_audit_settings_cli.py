"""Providers, the audit log and the forward proxy from the command line."""

from __future__ import annotations

import json

from support.cli import Cli, one_error_line
from tokendesk.domain.principal import command_line_principal
from tokendesk.services.audit import AUDIT_PAGE_MAX
from tokendesk.views.audit import AuditEventOut
from tokendesk.views.providers import ProviderOut
from tokendesk.views.settings import ProxyOut
from tokendesk.wiring import Tokendesk

PROXY_PASSWORD = "proxy-pass-5b1e"


def test_providers_list_and_show(cli: Cli) -> None:
    listed = cli.json("providers", "list")
    table = cli.ok("providers", "list").stdout
    salesforce = cli.json("providers", "show", "salesforce")
    described = cli.ok("providers", "show", "google_workspace").stdout
    unknown = cli("providers", "show", "nope")

    assert "salesforce" in {p["key"] for p in listed} and len(listed) == 10
    assert set(listed[0]) == set(ProviderOut.model_fields)
    assert "Microsoft Entra" in table
    assert [p["name"] for p in salesforce["placeholders"]] == ["yourinstance"]
    assert "<yourinstance>" in salesforce["token_url"]
    assert "Google Calendar" in described and "notes:" in described
    assert unknown.exit_code == 2
    one_error_line(unknown)


def test_audit_reads_filters_and_exports_json_lines(cli: Cli) -> None:
    cli.ok("roles", "create", "bots")
    cli.ok("connections", "create", "--name", "Desk", "--provider", "servicenow",
           "--grant-type", "client_credentials", "--client-id", "c",
           "--placeholder", "yourinstance=dev1", "--client-secret-stdin", input="s\n")
    cli.ok("connections", "edit", "Desk", "--description", "x")

    lines = cli.ok("audit", "--jsonl").stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["action"] for e in events] == ["connection.update", "connection.create",
                                             "role.create"]
    assert set(events[0]) == set(AuditEventOut.model_fields)
    assert [e["action"] for e in cli.json("audit", "--connection", "desk")] == [
        "connection.update", "connection.create"]
    assert [e["target"] for e in cli.json("audit", "--action", "role.create")] == ["bots"]
    assert len(cli.json("audit", "--limit", "1")) == 1
    assert cli.json("audit", "--since", "2999-01-01") == []
    assert len(cli.json("audit", "--since", "2000-01-01T00:00:00+02:00", "--actor", "cli")) == 3
    assert "connection.update" in cli.ok("audit").stdout

    bad_time = cli("audit", "--since", "yesterday")
    assert bad_time.exit_code == 2 and "(since)" in one_error_line(bad_time)
    assert cli("audit", "--connection", "nope").exit_code == 3


def test_audit_export_reads_past_the_service_page_size(cli: Cli, td: Tokendesk) -> None:
    with td.transaction() as tx:
        for n in range(AUDIT_PAGE_MAX + 5):
            td.audit.record(tx, command_line_principal(), "test.event", target_type="test",
                            target=str(n))

    lines = cli.ok("audit", "--jsonl", "--limit", str(AUDIT_PAGE_MAX + 3)).stdout.splitlines()

    ids = [json.loads(line)["id"] for line in lines]
    assert len(ids) == AUDIT_PAGE_MAX + 3
    assert ids == sorted(set(ids), reverse=True)


def test_proxy_settings_are_set_and_shown_without_the_password(cli: Cli, td: Tokendesk) -> None:
    assert cli.json("settings", "proxy", "show")["enabled"] is False

    saved = cli.json("settings", "proxy", "set", "--enabled", "--host", "proxy.corp.example",
                     "--port", "3128", "--auth", "basic", "--username", "svc",
                     "--password-stdin", "--bypass", "localhost,*.corp.example",
                     input=PROXY_PASSWORD + "\n")
    disabled = cli.json("settings", "proxy", "set", "--disabled")
    shown = cli.ok("settings", "proxy", "show").stdout

    assert set(saved) == set(ProxyOut.model_fields)
    assert (saved["enabled"], saved["host"], saved["port"]) == (True, "proxy.corp.example", 3128)
    assert saved["bypass"] == ["localhost", "*.corp.example"]
    assert saved["password_stored"] is True
    assert (disabled["enabled"], disabled["host"], disabled["username"]) == (
        False, "proxy.corp.example", "svc")
    assert "password stored: yes" in shown
    with td.transaction() as tx:
        password = td.proxy.password(tx)
    assert password is not None and password.reveal() == PROXY_PASSWORD
    assert PROXY_PASSWORD not in cli.everything_printed


def test_moving_the_proxy_keeps_no_stored_password_without_it_typed_again(
    cli: Cli, td: Tokendesk
) -> None:
    cli.ok("settings", "proxy", "set", "--enabled", "--host", "proxy.corp.example",
           "--port", "3128", "--auth", "basic", "--username", "svc", "--password-stdin",
           input=PROXY_PASSWORD + "\n")

    refused = cli("settings", "proxy", "set", "--host", "proxy.elsewhere.example")
    shown = cli.json("settings", "proxy", "show")
    retyped = cli("settings", "proxy", "set", "--host", "proxy.elsewhere.example",
                  "--password-stdin", input="typed-again\n")

    assert refused.exit_code == 2, refused.output
    assert "enter the proxy password again" in one_error_line(refused)
    assert shown["host"] == "proxy.corp.example"
    assert retyped.exit_code == 0, retyped.output
    with td.transaction() as tx:
        password = td.proxy.password(tx)
    assert password is not None and password.reveal() == "typed-again"


def test_proxy_errors(cli: Cli) -> None:
    no_port = cli("settings", "proxy", "set", "--enabled", "--host", "proxy.corp.example")
    no_password = cli("settings", "proxy", "set", "--auth", "basic", "--username", "u")
    bad_scheme = cli("settings", "proxy", "set", "--scheme", "socks5")

    for result in (no_port, no_password, bad_scheme):
        assert result.exit_code == 2
        one_error_line(result)
    assert cli.json("settings", "proxy", "show")["host"] == ""
