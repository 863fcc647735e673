"""The desk file's connection proxy, API base URL and secret expiry fields and its webhooks
and SMTP sections (issue 15): the plan names each difference field by field with secrets
only as verdicts, applying makes it so, and an invalid entry in them changes nothing."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from cli.desk_support import (
    ISSUER_NAME,
    ISSUER_RULES,
    ISSUER_URL,
    OWN_PROXY_PASSWORD,
    ROLE,
    SECRETS_BY_ENV,
    WEBHOOK_SECRET,
    WEBHOOK_URL,
    open_desk,
    populated_source,
)
from support.cli import Cli, one_error_line
from tokendesk.domain.principal import command_line_principal
from tokendesk.storage.tables import audit_events, webhooks, workload_issuers
from tokendesk.wiring import Tokendesk

NEW_PROXY_PASSWORD = "op-4d5e6f-new-own-proxy-password"
NEW_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"another 32 bytes of signing key!").decode()
PROXY_ENV = "TOKENDESK_SECRET_SIGNING_APP_PROXY_PASSWORD"
WEBHOOK_ENV = "TOKENDESK_SECRET_WEBHOOK_HOOKS_EXAMPLE_TEST"
NEW_API_BASE = "https://acme-eu.my.salesforce.com/services/data/v62.0"


@pytest.fixture
def source(sqlite_template: Path, tmp_path: Path) -> dict[str, str]:
    return populated_source(sqlite_template, tmp_path)


@pytest.fixture
def changed_secrets(source: dict[str, str]) -> Cli:
    """The command line on the populated desk, where the own proxy's password and the
    webhook's signing secret referred to are new ones."""
    return Cli({**source, **SECRETS_BY_ENV, PROXY_ENV: NEW_PROXY_PASSWORD,
                WEBHOOK_ENV: NEW_WEBHOOK_SECRET})


def _edited(exported: str, tmp_path: Path) -> Path:
    """The export with the own proxy moved, the API base URL and the secret's expiry day
    changed, and the webhook subscribed to other events and disabled."""
    document: dict[str, Any] = yaml.safe_load(exported)
    connections = {c["name"]: c for c in document["connections"]}
    connections["Signing app"].update(proxy_url="http://proxy2.onprem.test:8080",
                                      proxy_bypass=[])
    connections["Salesforce prod"].update(api_base_url=NEW_API_BASE,
                                          client_secret_expires_on="2028-01-31")
    document["webhooks"][0].update(events=["token.refresh_failed"], enabled=False)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _by_entry(plan: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(c["action"], c["kind"], c["name"]): {f["field"]: f for f in c["fields"]}
            for c in plan["changes"]}


def test_a_plan_names_a_proxy_and_a_webhook_difference_field_by_field_and_no_secret(
    changed_secrets: Cli, source: dict[str, str], tmp_path: Path
) -> None:
    cli = changed_secrets
    before = cli.ok("export").stdout
    edited = _edited(before, tmp_path)

    plan = json.loads(cli.ok("apply", "-f", str(edited), "--dry-run", "--json").stdout)
    shown = cli.ok("apply", "-f", str(edited), "--dry-run").stdout

    changes = _by_entry(plan)
    assert set(changes) == {("update", "connection", "Signing app"),
                            ("update", "connection", "Salesforce prod"),
                            ("update", "webhook", WEBHOOK_URL)}
    assert changes[("update", "connection", "Signing app")] == {
        "proxy_url": {"field": "proxy_url", "old": "http://proxy.onprem.test:3128",
                      "new": "http://proxy2.onprem.test:8080"},
        "proxy_bypass": {"field": "proxy_bypass", "old": ["*.onprem.test"], "new": []},
        "client_key": {"field": "client_key", "secret": "unchanged"},
        "proxy_password": {"field": "proxy_password", "secret": "changed"}}
    salesforce = changes[("update", "connection", "Salesforce prod")]
    assert salesforce["api_base_url"]["new"] == NEW_API_BASE
    assert salesforce["client_secret_expires_on"] == {
        "field": "client_secret_expires_on", "old": "2027-06-30", "new": "2028-01-31"}
    assert salesforce["client_secret"] == {"field": "client_secret", "secret": "unchanged"}
    assert changes[("update", "webhook", WEBHOOK_URL)] == {
        "events": {"field": "events",
                   "old": ["connection.misconfigured", "token.reauthentication_required"],
                   "new": ["token.refresh_failed"]},
        "enabled": {"field": "enabled", "old": True, "new": False},
        "signing_secret": {"field": "signing_secret", "secret": "changed"}}
    assert "    proxy_password: changed" in shown
    assert "    signing_secret: changed" in shown
    assert cli.ok("export").stdout == before  # a dry run changes nothing
    for secret in (OWN_PROXY_PASSWORD, NEW_PROXY_PASSWORD, WEBHOOK_SECRET, NEW_WEBHOOK_SECRET):
        assert secret not in cli.everything_printed


def test_applying_it_moves_the_proxy_and_replaces_the_secrets_then_prunes_the_webhook(
    changed_secrets: Cli, source: dict[str, str], tmp_path: Path
) -> None:
    cli = changed_secrets
    edited = _edited(cli.ok("export").stdout, tmp_path)

    cli.ok("apply", "-f", str(edited))
    again = cli.ok("apply", "-f", str(edited)).stdout

    td = open_desk(source)
    try:
        actor = command_line_principal()
        with td.transaction(read_only=True) as tx:
            signing = td.connections.get(tx, actor, "Signing app")
            salesforce = td.connections.get(tx, actor, "Salesforce prod")
            [webhook] = td.webhooks.all(tx, actor)
            assert signing.proxy.url == "http://proxy2.onprem.test:8080"
            assert signing.proxy.bypass == ()
            assert td.proxy.connection_password(tx, signing).reveal() == NEW_PROXY_PASSWORD
            assert salesforce.api_base_url == NEW_API_BASE
            assert salesforce.client_secret_expires_on.isoformat() == "2028-01-31"
            assert (webhook.events, webhook.enabled) == (("token.refresh_failed",), False)
            assert td.webhooks.signing_secret(webhook).reveal() == NEW_WEBHOOK_SECRET
    finally:
        td.close()
    assert again.startswith("No changes")
    document = yaml.safe_load(edited.read_text())
    document["webhooks"] = []
    edited.write_text(yaml.safe_dump(document))

    kept = cli.ok("apply", "-f", str(edited)).stdout
    pruned = cli.ok("apply", "-f", str(edited), "--prune").stdout

    assert f"  keep webhook '{WEBHOOK_URL}' (not in the file; --prune deletes it)" in kept
    assert f"- delete webhook '{WEBHOOK_URL}'" in pruned
    assert yaml.safe_load(cli.ok("export").stdout)["webhooks"] == []


def _count(td: Tokendesk, table: Any) -> int:
    with td.transaction(read_only=True) as tx:
        return int(tx.execute(select(func.count()).select_from(table)).scalar_one())


HOOK = "https://hooks.example.test/a"
GOOD_HOOK = {"url": HOOK, "events": ["token.refresh_failed"],
             "signing_secret": {"env": "TOKENDESK_SECRET_HOOK"}}
GOOD_RULE = {"conditions": [{"claim": "sub", "equals": "ci"}], "acts_as": "workload",
             "workload": "ci", "roles": ["Finance bots"]}
GOOD_ISSUER = {"name": "CI", "issuer": "https://ci.example.test", "audiences": ["tokendesk"],
               "rules": [GOOD_RULE]}


@pytest.mark.parametrize(("section", "entry", "expected"), [
    ("webhooks", {"url": HOOK, "events": ["token.refresh_failed"]},
     f"webhooks[0] '{HOOK}'.signing_secret: a webhook is created with its signing secret by "
     "reference"),
    ("webhooks", {**GOOD_HOOK, "events": ["token.exploded"]},
     f"webhooks[0] '{HOOK}'.events[0]: Input should be"),
    ("webhooks", {**GOOD_HOOK, "url": "ftp://hooks.example.test/a"},
     "webhooks[0] 'ftp://hooks.example.test/a'.url: "),
    ("webhooks", {**GOOD_HOOK, "signing_secret": {"env": "TOKENDESK_SECRET_NOT_A_SIGNING_KEY"}},
     f"webhooks[0] '{HOOK}'.signing_secret: A webhook signing secret is whsec_ followed by"),
    ("webhooks", [GOOD_HOOK, GOOD_HOOK],
     f"webhooks[1] '{HOOK}': the URL is already used by webhooks[0]"),
    ("connections", {"proxy_mode": "global", "proxy_url": "http://proxy.onprem.test:3128"},
     "connections[1] 'On prem'.proxy_url: proxy_url is used only when proxy_mode is 'own'"),
    ("connections", {"proxy_mode": "own", "proxy_url": "http://proxy.onprem.test:3128",
                     "proxy_username": "bot"},
     "connections[1] 'On prem'.proxy_password: Enter the password of the connection's proxy"),
    ("connections", {"proxy_mode": "sometimes"},
     "connections[1] 'On prem'.proxy_mode: Input should be 'global', 'none' or 'own'"),
    ("connections", {"api_base_url": "ftp://api.onprem.test/v1"},
     "connections[1] 'On prem'.api_base_url: "),
    ("smtp", {"enabled": True, "from_address": "desk@example.test"},
     "smtp.host: Enter the SMTP server's host name to enable e-mail."),
    ("workload_issuers", {**GOOD_ISSUER, "algorithms": ["HS256"]},
     "workload_issuers[0] 'CI'.algorithms: Algorithm HS256 is not allowed"),
    ("workload_issuers", {**GOOD_ISSUER, "issuer": "http://ci.example.test"},
     "workload_issuers[0] 'CI'.issuer: A workload issuer is reached over https"),
    ("workload_issuers", {**GOOD_ISSUER, "rules": [{**GOOD_RULE, "roles": ["Nobody"]}]},
     "workload_issuers[0] 'CI'.rules[0].roles: There is no custom role named 'Nobody'"),
    ("workload_issuers", {**GOOD_ISSUER, "rules": [{**GOOD_RULE, "conditions": [
        {"claim": "sub", "equals": "a", "prefix": "b"}]}]},
     "workload_issuers[0] 'CI'.rules[0].conditions[0]: Value error, give exactly one of"),
    ("workload_issuers", [GOOD_ISSUER, {**GOOD_ISSUER, "name": "CI again"}],
     "workload_issuers[1] 'CI again': the issuer URL is already used by workload_issuers[0]"),
])
def test_an_invalid_entry_in_the_new_sections_changes_nothing_and_names_it(
    admin_cli: Cli, td: Tokendesk, tmp_path: Path, section: str, entry: Any, expected: str
) -> None:
    document: dict[str, Any] = {"version": 1, "roles": [{"name": "Finance bots"}],
                                "connections": [
        {"name": "Good one", "provider": "servicenow", "grant_type": "client_credentials",
         "client_id": "good", "client_secret": {"env": "TOKENDESK_SECRET_GOOD"},
         "placeholders": {"yourinstance": "acme"}}]}
    if section == "connections":
        document["connections"].append({
            "name": "On prem", "provider": "custom", "grant_type": "client_credentials",
            "client_id": "onprem", "client_secret": {"env": "TOKENDESK_SECRET_GOOD"},
            "token_url": "https://login.onprem.test/token", **entry})
    else:
        document["webhooks"] = [GOOD_HOOK]
        document[section] = entry if isinstance(entry, list) or section == "smtp" else [entry]
    desk_file = tmp_path / "desk.yaml"
    desk_file.write_text(yaml.safe_dump(document))
    admin_cli.env.update(TOKENDESK_SECRET_GOOD="good-secret-value",
                         TOKENDESK_SECRET_HOOK=NEW_WEBHOOK_SECRET,
                         TOKENDESK_SECRET_NOT_A_SIGNING_KEY="plain-words-not-a-key")
    audited = _count(td, audit_events)

    for args in (("--dry-run",), ()):
        result = admin_cli("apply", "-f", str(desk_file), *args)

        assert result.exit_code == 2, result.stdout
        assert expected in one_error_line(result)
    with td.transaction(read_only=True) as tx:
        assert td.connections.search(tx, command_line_principal()) == []
        assert td.accounts.list_roles(tx, command_line_principal(), custom_only=True) == []
        assert td.mail.settings(tx).updated_at is None
    assert _count(td, webhooks) == 0
    assert _count(td, workload_issuers) == 0
    assert _count(td, audit_events) == audited
    for secret in ("good-secret-value", NEW_WEBHOOK_SECRET, "plain-words-not-a-key"):
        assert secret not in admin_cli.everything_printed


def test_a_connection_moved_off_its_own_proxy_loses_the_proxy_password(
    source: dict[str, str], tmp_path: Path
) -> None:
    cli = Cli({**source, **SECRETS_BY_ENV})
    document = yaml.safe_load(cli.ok("export").stdout)
    signing = next(c for c in document["connections"] if c["name"] == "Signing app")
    for key in ("proxy_url", "proxy_username", "proxy_password", "proxy_bypass"):
        del signing[key]
    signing["proxy_mode"] = "none"
    edited = tmp_path / "direct.yaml"
    edited.write_text(yaml.safe_dump(document))

    plan = json.loads(cli.ok("apply", "-f", str(edited), "--json").stdout)

    assert _by_entry(plan)[("update", "connection", "Signing app")] == {
        "proxy_mode": {"field": "proxy_mode", "old": "own", "new": "none"},
        "proxy_url": {"field": "proxy_url", "old": "http://proxy.onprem.test:3128", "new": None},
        "proxy_username": {"field": "proxy_username", "old": "signer", "new": ""},
        "proxy_bypass": {"field": "proxy_bypass", "old": ["*.onprem.test"], "new": []},
        "client_key": {"field": "client_key", "secret": "unchanged"},
        "proxy_password": {"field": "proxy_password", "secret": "removed"}}
    td = open_desk(source)
    try:
        with td.transaction(read_only=True) as tx:
            signing_app = td.connections.get(tx, command_line_principal(), "Signing app")
            assert signing_app.proxy.mode.value == "none"
            assert not signing_app.proxy.has_password
    finally:
        td.close()
    assert cli.ok("apply", "-f", str(edited)).stdout.startswith("No changes")


def _issuer_edited(exported: str, tmp_path: Path) -> Path:
    """The export with the workload issuer's audiences, algorithms and lifetime changed and
    its second rule replaced by one acting as another workload."""
    document: dict[str, Any] = yaml.safe_load(exported)
    [issuer] = document["workload_issuers"]
    issuer.update(audiences=["https://tokendesk.example.test", "tokendesk"],
                  algorithms=["RS256", "ES256"], max_lifetime_s=600)
    issuer["rules"][1] = {"conditions": [{"claim": "sub", "prefix": "repo:acme/"}],
                          "acts_as": "workload", "workload": "acme-any", "roles": [ROLE]}
    path = tmp_path / "issuer.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_the_workload_issuer_is_exported_with_its_rules_and_planned_field_by_field(
    source: dict[str, str], tmp_path: Path
) -> None:
    cli = Cli({**source, **SECRETS_BY_ENV})
    before = cli.ok("export").stdout
    [exported] = yaml.safe_load(before)["workload_issuers"]
    edited = _issuer_edited(before, tmp_path)

    plan = json.loads(cli.ok("apply", "-f", str(edited), "--dry-run", "--json").stdout)
    shown = cli.ok("apply", "-f", str(edited), "--dry-run").stdout

    assert {k: v for k, v in exported.items() if k != "id"} == {
        "name": ISSUER_NAME, "issuer": ISSUER_URL,
        "audiences": ["https://tokendesk.example.test"], "algorithms": ["RS256"],
        "max_lifetime_s": 900, "refuse_replay": True, "rules": ISSUER_RULES}
    changes = _by_entry(plan)
    assert set(changes) == {("update", "workload_issuer", ISSUER_NAME)}
    fields = changes[("update", "workload_issuer", ISSUER_NAME)]
    assert set(fields) == {"audiences", "algorithms", "max_lifetime_s", "rules"}
    assert fields["max_lifetime_s"] == {"field": "max_lifetime_s", "old": 900, "new": 600}
    assert fields["algorithms"] == {"field": "algorithms", "old": ["RS256"],
                                    "new": ["RS256", "ES256"]}
    assert fields["rules"]["old"] == ISSUER_RULES
    assert fields["rules"]["new"][1]["workload"] == "acme-any"
    assert f"~ update workload issuer '{ISSUER_NAME}'" in shown
    assert cli.ok("export").stdout == before  # a dry run changes nothing


def test_applying_it_changes_the_issuer_and_its_rules_then_prunes_it(
    source: dict[str, str], tmp_path: Path
) -> None:
    cli = Cli({**source, **SECRETS_BY_ENV})
    edited = _issuer_edited(cli.ok("export").stdout, tmp_path)

    cli.ok("apply", "-f", str(edited))
    again = cli.ok("apply", "-f", str(edited)).stdout

    td = open_desk(source)
    try:
        with td.transaction(read_only=True) as tx:
            issuer = td.workloads.get(tx, command_line_principal(), ISSUER_NAME)
        assert issuer.audiences == ("https://tokendesk.example.test", "tokendesk")
        assert (issuer.algorithms, issuer.max_lifetime_s) == (("RS256", "ES256"), 600)
        assert [r.words() for r in issuer.rules] == [
            'When repository is "acme/robots" and ref starts with "refs/heads/", act as '
            f"workload robots with roles: {ROLE}.",
            f'When sub starts with "repo:acme/", act as workload acme-any with roles: {ROLE}.']
        assert issuer.first_match({"sub": "repo:acme/x"}) == issuer.rules[1]
    finally:
        td.close()
    assert again.startswith("No changes")
    document = yaml.safe_load(edited.read_text())
    document["workload_issuers"] = []
    edited.write_text(yaml.safe_dump(document))

    kept = cli.ok("apply", "-f", str(edited)).stdout
    pruned = cli.ok("apply", "-f", str(edited), "--prune").stdout

    assert f"  keep workload issuer '{ISSUER_NAME}' (not in the file; --prune deletes it)" in kept
    assert f"- delete workload issuer '{ISSUER_NAME}'" in pruned
    assert yaml.safe_load(cli.ok("export").stdout)["workload_issuers"] == []


def test_a_rule_naming_its_role_in_other_letters_is_no_change(
    source: dict[str, str], tmp_path: Path
) -> None:
    cli = Cli({**source, **SECRETS_BY_ENV})
    document = yaml.safe_load(cli.ok("export").stdout)
    [issuer] = document["workload_issuers"]
    for rule in issuer["rules"]:
        rule["roles"] = [role.upper() for role in rule["roles"]]
    path = tmp_path / "shouting.yaml"
    path.write_text(yaml.safe_dump(document))

    assert cli.ok("apply", "-f", str(path)).stdout.startswith("No changes")


def test_an_issuer_renamed_under_its_id_keeps_its_row_and_a_new_url_makes_a_new_one(
    source: dict[str, str], tmp_path: Path
) -> None:
    cli = Cli({**source, **SECRETS_BY_ENV})
    document = yaml.safe_load(cli.ok("export").stdout)
    [issuer] = document["workload_issuers"]
    issuer.update(name="GitHub CI", issuer="https://ghes.acme.test/_services/token")
    second = {"name": "Kubernetes", "issuer": "https://kubernetes.acme.test",
              "audiences": ["tokendesk"], "algorithms": [], "rules": [
                  {"conditions": [{"claim": "sub", "equals": "system:serviceaccount:rpa:runner"}],
                   "acts_as": "workload", "workload": "rpa", "roles": [ROLE]}]}
    document["workload_issuers"].append(second)
    path = tmp_path / "renamed.yaml"
    path.write_text(yaml.safe_dump(document))

    plan = json.loads(cli.ok("apply", "-f", str(path), "--json").stdout)

    changes = _by_entry(plan)
    assert set(changes) == {("update", "workload_issuer", "GitHub CI"),
                            ("create", "workload_issuer", "Kubernetes")}
    assert changes[("update", "workload_issuer", "GitHub CI")] == {
        "name": {"field": "name", "old": ISSUER_NAME, "new": "GitHub CI"},
        "issuer": {"field": "issuer", "old": ISSUER_URL,
                   "new": "https://ghes.acme.test/_services/token"}}
    exported = yaml.safe_load(cli.ok("export").stdout)["workload_issuers"]
    assert [(i["name"], i["id"] == issuer["id"]) for i in exported] == [
        ("GitHub CI", True), ("Kubernetes", False)]
    assert exported[1]["rules"] == second["rules"]
    assert exported[1]["algorithms"] == ["RS256", "ES256"]  # none given: the defaults
    assert cli.ok("apply", "-f", str(path)).stdout.startswith("No changes")
