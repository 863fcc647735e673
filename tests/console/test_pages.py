"""The connections list and page, and the administration pages, read through the console."""

from __future__ import annotations

import json
import re

from console_support import PUBLIC_URL, Console, field_error

from support.api import CLIENT_SECRET, connection_body
from tokendesk.domain.principal import command_line_principal
from tokendesk.services.inputs import ConnectionCreate, RoleCreate
from tokendesk.wiring import Tokendesk

PROXY_PASSWORD = "proxy-pw-5b7c1e9a"


def make_connection(td: Tokendesk, **overrides: object) -> None:
    with td.transaction() as tx:
        td.connections.create(tx, command_line_principal(),
                              ConnectionCreate.model_validate(connection_body(**overrides)))


def names_listed(html: str) -> list[str]:
    table = re.search(r'<table class="list[^"]*" id="connections">(.*?)</table>', html, re.S)
    return re.findall(r'<a href="/connections/[^"]+">([^<]+)</a>', table.group(1)) if table else []


def test_an_empty_list_invites_to_create_a_connection(admin: Console) -> None:
    page = admin.get("/connections")

    assert "No OAuth connections yet" in page.text
    assert page.text.count('href="/wizard/new"') == 2  # the header button and the call to action


def test_the_list_filters_by_provider_and_status_and_searches_exact_phrases(
    admin: Console, td: Tokendesk,
) -> None:
    make_connection(td, name="Salesforce prod")
    make_connection(td, name="Salesforce prod EU")
    make_connection(td, name="Tickets", provider="servicenow",
                    placeholders={"yourinstance": "acme"})

    everything = admin.get("/connections")
    contains = admin.get("/connections", params={"q": "salesforce PROD"})
    exact = admin.get("/connections", params={"q": '"salesforce prod"'})
    by_provider = admin.get("/connections", params={"provider": "servicenow"})
    no_token = admin.get("/connections", params={"status": "none"})
    valid = admin.get("/connections", params={"status": "valid"})
    unknown = admin.get("/connections", params={"provider": "nope"})

    assert names_listed(everything.text) == ["Salesforce prod", "Salesforce prod EU", "Tickets"]
    assert "Salesforce" in everything.text and "ServiceNow" in everything.text
    assert "Authorization Code Flow" in everything.text
    assert names_listed(contains.text) == ["Salesforce prod", "Salesforce prod EU"]
    assert names_listed(exact.text) == ["Salesforce prod"]
    assert names_listed(by_provider.text) == ["Tickets"]
    assert len(names_listed(no_token.text)) == 3
    assert names_listed(valid.text) == [] and "No connection matches" in valid.text
    assert "Unknown provider" in (field_error(unknown.text, "provider") or "")


def test_the_connection_page_shows_every_field_but_the_secret(admin: Console,
                                                              td: Tokendesk) -> None:
    with td.transaction() as tx:
        td.accounts.create_role(tx, command_line_principal(), RoleCreate(name="Sales bots"))
    make_connection(td, invited_roles=["Sales bots"])

    page = admin.get("/connections/Salesforce prod")

    for shown in ("Salesforce", "3MVG9-client-id", "Authorization Code Flow",
                  "https://acme.salesforce.com/services/oauth2/token",
                  "api,refresh_token,offline_access", f"{PUBLIC_URL}/oauth/callback",
                  "Sales bots", "stored — type a new one in Edit to replace it",
                  "Not connected", "connection.create"):
        assert shown in page.text, shown
    assert CLIENT_SECRET not in page.text
    assert 'data-copy="#callback-url"' in page.text


def test_delete_asks_for_confirmation_first(admin: Console, td: Tokendesk) -> None:
    make_connection(td)

    confirm = admin.get("/connections/Salesforce prod/delete")
    deleted = admin.post("/connections/Salesforce prod/delete")
    listing = admin.follow(deleted)

    assert "Delete “Salesforce prod”?" in confirm.text
    assert deleted.headers["location"] == "/connections"
    assert "was deleted" in listing.text and names_listed(listing.text) == []
    assert admin.get("/connections/Salesforce prod").status_code == 404


def test_the_audit_log_filters_and_exports_json_lines(admin: Console, td: Tokendesk) -> None:
    make_connection(td)
    make_connection(td, name="Other")

    page = admin.get("/admin/audit", params={"connection": "Salesforce prod"})
    export = admin.http.get("/admin/audit/export", params={"action": "connection.create"})
    bad_time = admin.get("/admin/audit", params={"since": "yesterday"})
    unknown = admin.get("/admin/audit", params={"connection": "Nope"})

    assert "connection.create" in page.text and ">Other <" not in page.text
    assert export.headers["content-type"].startswith("application/jsonl")
    assert "attachment" in export.headers["content-disposition"]
    events = [json.loads(line) for line in export.text.splitlines()]
    assert [e["target"] for e in events] == ["Other", "Salesforce prod"]
    assert {"at", "actor", "via", "action", "outcome", "details"} <= set(events[0])
    assert "YYYY-MM-DD" in (field_error(bad_time.text, "since") or "")
    assert "no connection named" in (field_error(unknown.text, "connection") or "")


def test_a_new_api_key_is_shown_once(admin: Console) -> None:
    created = admin.post("/api-keys", {"name": "invoice-bot", "user": "admin"})
    key = re.search(r'id="new-key-value" class="code" readonly value="(td_[^"]+)"', created.text)
    later = admin.get("/api-keys")

    assert created.status_code == 200 and key is not None
    assert created.headers["cache-control"] == "no-store"
    assert key.group(1) not in later.text
    assert "invoice-bot" in later.text
    assert admin.http.get("/api/v1/providers",
                          headers={"Authorization": f"Bearer {key.group(1)}"}).status_code == 200


def test_the_proxy_password_is_never_shown(admin: Console) -> None:
    saved = admin.post("/admin/network", {
        "enabled": "on", "scheme": "http", "host": "proxy.corp.example", "port": "3128",
        "auth": "basic", "username": "svc", "password": PROXY_PASSWORD,
        "bypass": "localhost\n*.corp.example"})
    page = admin.follow(saved)
    bad_port = admin.post("/admin/network", {"enabled": "on", "host": "proxy.corp.example",
                                             "port": "eighty", "auth": "none"})

    assert 'value="proxy.corp.example"' in page.text
    assert "A password is stored" in page.text
    assert "*.corp.example" in page.text
    assert PROXY_PASSWORD not in admin.every_page()
    assert field_error(bad_port.text, "port") == "The port is a number from 1 to 65535."


def test_moving_the_proxy_asks_for_its_password_again_and_keeps_what_was_typed(
    admin: Console, td: Tokendesk
) -> None:
    proxy = {"enabled": "on", "scheme": "http", "host": "proxy.corp.example", "port": "3128",
             "auth": "basic", "username": "svc", "bypass": ""}
    admin.post("/admin/network", {**proxy, "password": PROXY_PASSWORD})

    moved = admin.post("/admin/network", {**proxy, "host": "proxy.elsewhere.example"})

    assert moved.status_code == 422
    assert field_error(moved.text, "password") == (
        "The proxy now points at another server; enter the proxy password again.")
    assert 'value="proxy.elsewhere.example"' in moved.text
    with td.transaction() as tx:
        assert td.proxy.get(tx).host == "proxy.corp.example"
    assert PROXY_PASSWORD not in admin.every_page()


def test_users_and_roles_are_managed_with_errors_next_to_fields(admin: Console,
                                                                td: Tokendesk) -> None:
    role = admin.post("/admin/roles", {"name": "Connection managers", "description": "",
                                       "permission": ["oauth_connections.manage"]})
    weak = admin.post("/admin/users", {"username": "carol", "password": "short",
                                       "role": ["Connection managers"]})
    user = admin.post("/admin/users", {"username": "carol", "password": "a long enough pass",
                                       "display_name": "Carol", "role": ["Connection managers"]})
    unconfirmed = admin.post("/admin/users/carol", {"action": "disable"})
    with td.transaction() as tx:
        assert not td.accounts.get_user(tx, "carol").disabled  # only asked to confirm
    disabled = admin.post("/admin/users/carol", {"action": "disable", "confirmed": "yes"})
    roles_page = admin.get("/admin/roles")

    assert role.status_code == 303 and user.status_code == 303
    assert unconfirmed.headers["location"] == "/admin/users/carol/disable"
    assert "OAuth Connections: Manage connections" in roles_page.text
    assert field_error(weak.text, "password") is not None
    assert "Disabled" in admin.follow(disabled).text
    with td.transaction() as tx:
        carol = td.accounts.get_user(tx, "carol")
    assert carol.disabled
