"""The desk as code (issue 15, items 1 and 2): `tokendesk export` writes the desk as a desk
file with its secrets as references, `tokendesk apply -f FILE --dry-run` prints the plan and
changes nothing, `tokendesk apply -f FILE` applies it in one transaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select

from cli.desk_support import (
    ISSUER_NAME,
    OWN_PROXY_PASSWORD,
    PROXY_PASSWORD,
    ROLE,
    SECRETS_BY_ENV,
    SERVICENOW_SECRET,
    SIGNING_KEY,
    SMTP_PASSWORD,
    WEBHOOK_SECRET,
    WEBHOOK_URL,
    desk_env,
    open_desk,
    populated_source,
)
from support.api import CLIENT_SECRET
from support.cli import Cli, one_error_line
from support.databases import empty_all_tables
from tokendesk.domain.principal import command_line_principal
from tokendesk.storage.tables import audit_events
from tokendesk.wiring import Tokendesk

ALL_SECRETS = (CLIENT_SECRET, SERVICENOW_SECRET, PROXY_PASSWORD, SIGNING_KEY.key_pem.strip(),
               OWN_PROXY_PASSWORD, WEBHOOK_SECRET, SMTP_PASSWORD)


def audit_count(td: Tokendesk) -> int:
    with td.transaction(read_only=True) as tx:
        return int(tx.execute(select(func.count()).select_from(audit_events)).scalar_one())


def secrets_of(td: Tokendesk) -> dict[str, str | None]:
    """Every stored secret, decrypted, by the env name the export suggests for it."""
    actor = command_line_principal()
    with td.transaction(read_only=True) as tx:
        found = {c.name: c for c in td.connections.search(tx, actor)}
        [webhook] = td.webhooks.all(tx, actor)
        held = {
            "TOKENDESK_SECRET_SALESFORCE_PROD":
                td.connections.client_secret(tx, found["Salesforce prod"]),
            "TOKENDESK_SECRET_SERVICENOW_BOTS":
                td.connections.client_secret(tx, found["ServiceNow bots"]),
            "TOKENDESK_SECRET_SIGNING_APP_KEY":
                td.connections.client_key(tx, found["Signing app"]),
            "TOKENDESK_SECRET_SIGNING_APP_PROXY_PASSWORD":
                td.proxy.connection_password(tx, found["Signing app"]),
            "TOKENDESK_SECRET_WEBHOOK_HOOKS_EXAMPLE_TEST": td.webhooks.signing_secret(webhook),
            "TOKENDESK_SECRET_PROXY_PASSWORD": td.proxy.password(tx),
            "TOKENDESK_SECRET_SMTP_PASSWORD": td.mail.server(tx).password,
        }
    return {name: secret.reveal() if secret else None for name, secret in held.items()}


@pytest.fixture
def source(sqlite_template: Path, tmp_path: Path) -> dict[str, str]:
    """A populated desk on SQLite."""
    return populated_source(sqlite_template, tmp_path)


@pytest.mark.postgres
def test_an_export_applied_to_a_fresh_postgresql_desk_gives_the_same_desk_twice(
    source: dict[str, str], postgres_session_database: Engine, tmp_path: Path
) -> None:
    """SQLite -> PostgreSQL: the same connections, roles and settings; the second apply
    reports no change and changes nothing."""
    exported = Cli(source).ok("export").stdout
    desk_file = tmp_path / "desk.yaml"
    desk_file.write_text(exported)
    empty_all_tables(postgres_session_database)
    target_url = postgres_session_database.url.render_as_string(hide_password=False)
    target = desk_env(target_url, tmp_path / "target")
    open_desk(target).close()  # a fresh desk: migrated, the system roles only
    apply = Cli({**target, **SECRETS_BY_ENV})

    first = apply.ok("apply", "-f", str(desk_file))
    again = apply.ok("apply", "-f", str(desk_file), "--json")

    assert "+ create connection 'Salesforce prod'" in first.stdout
    assert "+ create role 'Sales bots'" in first.stdout
    assert "~ update proxy 'forward proxy'" in first.stdout
    assert f"+ create webhook '{WEBHOOK_URL}'" in first.stdout
    assert "~ update smtp 'e-mail settings'" in first.stdout
    assert f"+ create workload issuer '{ISSUER_NAME}'" in first.stdout
    assert Cli(target).ok("export").stdout == exported  # same connections, ids, roles, settings
    td = open_desk(target)
    try:
        assert secrets_of(td) == {k: v.strip() if "KEY" in k else v
                                  for k, v in SECRETS_BY_ENV.items()}
        count = audit_count(td)
        plan = json.loads(again.stdout)
        assert plan["changes"] == [] and plan["summary"] == {"create": 0, "update": 0,
                                                             "delete": 0}
        assert sorted(plan["unchanged"]) == sorted([
            "egress allowlist", "forward proxy", "e-mail settings", f"role '{ROLE}'",
            "connection 'Salesforce prod'", "connection 'ServiceNow bots'",
            "connection 'Signing app'", f"webhook '{WEBHOOK_URL}'",
            f"workload issuer '{ISSUER_NAME}'"])
        assert apply.ok("apply", "-f", str(desk_file)).stdout.startswith("No changes")
        assert audit_count(td) == count
    finally:
        td.close()
    for secret in ALL_SECRETS:
        assert secret not in apply.everything_printed


def test_the_export_carries_secrets_only_as_references_with_suggested_names(
    source: dict[str, str]
) -> None:
    cli = Cli(source)

    exported = cli.ok("export").stdout

    for secret in ALL_SECRETS:
        assert secret not in exported
    document = yaml.safe_load(exported)
    by_name = {c["name"]: c for c in document["connections"]}
    assert by_name["Salesforce prod"]["client_secret"] == {
        "env": "TOKENDESK_SECRET_SALESFORCE_PROD"}
    assert by_name["Signing app"]["client_key"] == {"env": "TOKENDESK_SECRET_SIGNING_APP_KEY"}
    assert "client_secret" not in by_name["Signing app"]
    assert document["proxy"]["password"] == {"env": "TOKENDESK_SECRET_PROXY_PASSWORD"}
    assert by_name["Salesforce prod"]["client_secret_expires_on"] == "2027-06-30"
    assert by_name["Salesforce prod"]["api_base_url"] == (
        "https://acme.my.salesforce.com/services/data/v61.0")
    assert "proxy_mode" not in by_name["Salesforce prod"]  # the default: the forward proxy
    signing = by_name["Signing app"]
    assert {k: v for k, v in signing.items() if k.startswith("proxy_")} == {
        "proxy_mode": "own", "proxy_url": "http://proxy.onprem.test:3128",
        "proxy_username": "signer",
        "proxy_password": {"env": "TOKENDESK_SECRET_SIGNING_APP_PROXY_PASSWORD"},
        "proxy_bypass": ["*.onprem.test"]}
    [webhook] = document["webhooks"]
    assert {k: v for k, v in webhook.items() if k != "id"} == {
        "url": WEBHOOK_URL,
        "events": ["token.reauthentication_required", "connection.misconfigured"],
        "description": "Pages the on-call", "enabled": True,
        "signing_secret": {"env": "TOKENDESK_SECRET_WEBHOOK_HOOKS_EXAMPLE_TEST"}}
    assert document["smtp"] == {
        "enabled": True, "host": "smtp.example.test", "port": 587, "starttls": True,
        "username": "desk", "password": {"env": "TOKENDESK_SECRET_SMTP_PASSWORD"},
        "from_address": "tokendesk@example.test"}
    assert document["roles"] == [{"name": ROLE, "description": "Bots of the sales team",
                                  "permissions": ["oauth_connections.view"]}]
    assert document["egress_allowlist"] == ["10.20.0.0/16"]


def _edited(exported: str, tmp_path: Path) -> Path:
    """The export with one change of each kind: a connection's scopes, a new connection, a
    role's permissions, a connection left out (deleted with --prune), the proxy's port."""
    document: dict[str, Any] = yaml.safe_load(exported)
    connections = {c["name"]: c for c in document["connections"]}
    connections["Salesforce prod"]["scopes"] = ["api", "refresh_token"]
    del connections["ServiceNow bots"]
    connections["Jira cloud"] = {
        "name": "Jira cloud", "provider": "jira", "grant_type": "authorization_code",
        "client_id": "jira-client", "client_secret": {"file": "jira-secret.txt"},
        "scopes": ["read:jira-work", "offline_access"], "invited_roles": [ROLE]}
    document["connections"] = list(connections.values())
    document["roles"][0]["permissions"] = []
    document["proxy"]["port"] = 8080
    (tmp_path / "jira-secret.txt").write_text("jira-secret-value\n")
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_a_dry_run_names_every_difference_and_touches_nothing(
    source: dict[str, str], tmp_path: Path
) -> None:
    cli = Cli({**source, **SECRETS_BY_ENV,
               "TOKENDESK_SECRET_SALESFORCE_PROD": "a-new-client-secret"})
    before = cli.ok("export").stdout
    edited = _edited(before, tmp_path)
    td = open_desk(source)
    count = audit_count(td)

    result = cli.ok("apply", "-f", str(edited), "--dry-run", "--prune", "--json")

    plan = json.loads(result.stdout)
    changes = {(c["action"], c["kind"], c["name"]): {f["field"]: f for f in c["fields"]}
               for c in plan["changes"]}
    assert set(changes) == {
        ("update", "proxy", "forward proxy"),
        ("update", "role", ROLE),
        ("delete", "connection", "ServiceNow bots"),
        ("update", "connection", "Salesforce prod"),
        ("create", "connection", "Jira cloud"),
    }
    assert changes[("update", "proxy", "forward proxy")] == {
        "port": {"field": "port", "old": 3128, "new": 8080},
        "password": {"field": "password", "secret": "unchanged"}}
    assert changes[("update", "role", ROLE)] == {
        "permissions": {"field": "permissions", "old": ["oauth_connections.view"], "new": []}}
    salesforce = changes[("update", "connection", "Salesforce prod")]
    assert salesforce["scopes"]["new"] == ["api", "refresh_token"]
    assert salesforce["client_secret"] == {"field": "client_secret", "secret": "changed"}
    assert changes[("create", "connection", "Jira cloud")]["client_secret"]["secret"] == "set"
    assert plan["unchanged"] == ["egress allowlist", "e-mail settings",
                                 "connection 'Signing app'", f"webhook '{WEBHOOK_URL}'",
                                 f"workload issuer '{ISSUER_NAME}'"]
    assert plan["dry_run"] is True and plan["applied"] is False
    assert cli.ok("export").stdout == before
    assert audit_count(td) == count
    td.close()
    assert "a-new-client-secret" not in cli.everything_printed
    assert "jira-secret-value" not in cli.everything_printed


def test_the_plan_for_people_shows_old_and_new_and_keeps_what_the_file_leaves_out(
    source: dict[str, str], tmp_path: Path
) -> None:
    cli = Cli({**source, **SECRETS_BY_ENV})
    edited = _edited(cli.ok("export").stdout, tmp_path)

    shown = cli.ok("apply", "-f", str(edited), "--dry-run").stdout

    assert "~ update connection 'Salesforce prod'" in shown
    assert "    client_secret: unchanged" in shown
    assert "    port: 3128 -> 8080" in shown
    assert "  keep connection 'ServiceNow bots' (not in the file; --prune deletes it)" in shown
    assert "Nothing was changed (dry run)." in shown


def test_applying_the_edited_file_makes_the_desk_so_in_one_change_set(
    source: dict[str, str], tmp_path: Path
) -> None:
    cli = Cli({**source, **SECRETS_BY_ENV})
    edited = _edited(cli.ok("export").stdout, tmp_path)

    cli.ok("apply", "-f", str(edited), "--prune")

    after = yaml.safe_load(cli.ok("export").stdout)
    names = [c["name"] for c in after["connections"]]
    assert names == ["Jira cloud", "Salesforce prod", "Signing app"]
    assert after["proxy"]["port"] == 8080
    td = open_desk(source)
    try:
        with td.transaction(read_only=True) as tx:
            jira = td.connections.get(tx, command_line_principal(), "Jira cloud")
            assert td.connections.client_secret(tx, jira).reveal() == "jira-secret-value"
            events = tx.execute(select(audit_events).where(
                audit_events.c.action == "desk.apply")).all()
            logged = json.dumps([e.details for e in tx.execute(select(audit_events)).all()])
        assert len(events) == 1
        assert events[0].details["summary"] == {"create": 1, "update": 3, "delete": 1}
        for secret in (*ALL_SECRETS, "jira-secret-value"):
            assert secret not in logged
    finally:
        td.close()
    assert cli.ok("apply", "-f", str(edited), "--prune").stdout.startswith("No changes")


def test_an_invalid_entry_fails_the_whole_apply_naming_the_entry_and_field(
    admin_cli: Cli, td: Tokendesk, tmp_path: Path
) -> None:
    desk_file = tmp_path / "desk.yaml"
    desk_file.write_text(yaml.safe_dump({"version": 1, "roles": [{"name": "Finance bots"}],
        "connections": [
            {"name": "Good one", "provider": "servicenow", "grant_type": "client_credentials",
             "client_id": "good", "client_secret": {"env": "GOOD_SECRET"},
             "placeholders": {"yourinstance": "acme"}},
            {"name": "Broken one", "provider": "custom", "grant_type": "client_credentials",
             "client_id": "broken", "client_secret": {"env": "GOOD_SECRET"},
             "token_url": "ftp://login.example.test/token"}]}))
    admin_cli.env["GOOD_SECRET"] = "good-secret-value"
    count = audit_count(td)

    for args in (("--dry-run",), ()):
        result = admin_cli("apply", "-f", str(desk_file), *args)

        assert result.exit_code == 2
        line = one_error_line(result)
        assert "connections[1] 'Broken one'.token_url" in line
    with td.transaction(read_only=True) as tx:
        assert td.connections.search(tx, command_line_principal()) == []
        names = [r.name for r in td.accounts.list_roles(tx, command_line_principal(),
                                                         custom_only=True)]
    assert names == []
    assert audit_count(td) == count


def test_a_secret_reference_to_a_missing_environment_variable_is_a_clear_error(
    admin_cli: Cli, td: Tokendesk, tmp_path: Path
) -> None:
    desk_file = tmp_path / "desk.yaml"
    desk_file.write_text(yaml.safe_dump({"version": 1, "connections": [
        {"name": "ServiceNow bots", "provider": "servicenow", "grant_type": "client_credentials",
         "client_id": "sn", "client_secret": {"env": "TOKENDESK_SECRET_NOT_SET"},
         "placeholders": {"yourinstance": "acme"}}]}))

    result = admin_cli("apply", "-f", str(desk_file))

    assert result.exit_code == 2
    assert one_error_line(result) == (
        "error (connections[0] 'ServiceNow bots'.client_secret): connections[0] 'ServiceNow "
        "bots'.client_secret: the environment variable TOKENDESK_SECRET_NOT_SET is not set on "
        "the machine that applies the desk file; set it, or change the reference.")
    with td.transaction(read_only=True) as tx:
        assert td.connections.search(tx, command_line_principal()) == []


@pytest.mark.parametrize(("content", "expected"), [
    ("version: 1\nconnections:\n  - name: X\n    grant_type: client_credentials\n"
     "    client_id: x\n    client_secret: the-secret-itself\n",
     "connections[0] 'X'.client_secret: Value error, a secret is given by reference"),
    ("version: 1\nroles:\n  - name: A\n    permisions: []\n",
     "roles[0] 'A'.permisions: is not a known field"),
    ("version: 1\nversion: 1\n", "gives the key 'version' twice (line 2)"),
    ("roles: []\n", "version: is required"),
    ("version: 1\nproxy: {enabled: true, password: {env: A, file: b}}\n",
     "proxy.password: Value error, give exactly one of env or file"),
    ("version: 1\nproxy: {enabled: false, password: {env: null}}\n",
     "proxy.password: Value error, give exactly one of env or file"),
    ("version: 1\nroles:\n  - name: Bots\n  - name: bots\n",
     "roles[1] 'bots': the name is already used by roles[0]"),
    ("version: 1\nroles:\n  - name: Administrator\n",
     "roles[0] 'Administrator'.name: 'Administrator' is a system role; the desk file declares only "
     "custom roles."),
])
def test_a_file_that_does_not_follow_the_schema_is_refused_without_quoting_values(
    admin_cli: Cli, tmp_path: Path, content: str, expected: str
) -> None:
    desk_file = tmp_path / "desk.yaml"
    desk_file.write_text(content)

    result = admin_cli("apply", "-f", str(desk_file), "--dry-run")

    assert result.exit_code == 2
    assert expected in one_error_line(result)
    assert "the-secret-itself" not in admin_cli.everything_printed


def test_export_schema_prints_the_published_json_schema(admin_cli: Cli) -> None:
    schema = json.loads(admin_cli.ok("export", "--schema").stdout)

    assert schema["$id"] == "urn:tokendesk:desk-file:1"
    assert schema["additionalProperties"] is False
    assert "webhook subscriptions" in schema["description"]
    assert {"webhooks", "smtp"} <= set(schema["properties"])


def test_the_provider_of_an_existing_connection_cannot_change(
    source: dict[str, str], tmp_path: Path
) -> None:
    cli = Cli({**source, **SECRETS_BY_ENV})
    document = yaml.safe_load(cli.ok("export").stdout)
    salesforce = next(c for c in document["connections"] if c["name"] == "Salesforce prod")
    salesforce["provider"] = "custom"
    desk_file = tmp_path / "desk.yaml"
    desk_file.write_text(yaml.safe_dump(document))

    result = cli("apply", "-f", str(desk_file), "--dry-run")

    assert result.exit_code == 2
    assert ("'Salesforce prod'.provider: the provider of an existing connection cannot change "
            "(it is 'salesforce')") in one_error_line(result)
