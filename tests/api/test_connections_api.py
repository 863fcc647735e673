"""Registering connections through the REST API: the seed's fields, its rules, its secrecy."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from support.api import CLIENT_SECRET, Api, connection_body, make_user
from tokendesk.storage.tables import audit_events, connections
from tokendesk.wiring import Tokendesk


def stored_rows(td: Tokendesk) -> list[dict[str, Any]]:
    with td.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(connections))]


def test_an_admin_registers_a_salesforce_connection_with_the_seed_fields(admin: Api) -> None:
    response = admin.post("/connections", json=connection_body())

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Salesforce prod"
    assert body["provider"] == "salesforce"
    assert body["grant_type"] == "authorization_code"
    assert body["authorization_url"] == "https://acme.salesforce.com/services/oauth2/authorize"
    assert body["token_url"] == "https://acme.salesforce.com/services/oauth2/token"
    assert body["scopes"] == ["api", "refresh_token", "offline_access"]
    assert body["pkce"] is True
    # its own redirect URI (RFC 9700 §4.4.2 mix-up defence), not the shared one
    assert re.fullmatch(r"https://tokendesk\.example\.test/oauth/callback/[0-9a-f]{32}",
                        body["callback_url"])
    assert body["client_secret_stored"] is True
    assert "client_secret" not in body


def test_the_client_secret_is_never_read_back_and_is_stored_encrypted(
    admin: Api, td: Tokendesk
) -> None:
    created = admin.post("/connections", json=connection_body())
    listed = admin.get("/connections")
    shown = admin.get("/connections/salesforce PROD")
    audit = admin.get("/audit")

    for response in (created, listed, shown, audit):
        assert response.status_code == 200 or response.status_code == 201
        assert CLIENT_SECRET not in response.text
    [row] = stored_rows(td)
    assert CLIENT_SECRET not in str(row)
    assert row["client_secret_ct"].startswith(f"v1:{td.keyring.active_key_id}:")


def test_an_edit_without_a_new_secret_keeps_the_stored_one(admin: Api, td: Tokendesk) -> None:
    admin.post("/connections", json=connection_body())
    before = stored_rows(td)[0]["client_secret_ct"]

    response = admin.patch("/connections/Salesforce prod", json={"description": "new words"})

    assert response.status_code == 200, response.text
    assert response.json()["description"] == "new words"
    with td.transaction() as tx:
        connection = td.connections.get(tx, _cli(), "Salesforce prod")
        secret = td.connections.client_secret(tx, connection)
    assert stored_rows(td)[0]["client_secret_ct"] == before
    assert secret is not None and secret.reveal() == CLIENT_SECRET


def test_an_edit_with_a_new_secret_replaces_it(admin: Api, td: Tokendesk) -> None:
    admin.post("/connections", json=connection_body())

    admin.patch("/connections/Salesforce prod", json={"client_secret": "a-brand-new-secret"})

    with td.transaction() as tx:
        connection = td.connections.get(tx, _cli(), "Salesforce prod")
        secret = td.connections.client_secret(tx, connection)
    assert secret is not None and secret.reveal() == "a-brand-new-secret"


def test_names_are_unique_regardless_of_case(admin: Api, td: Tokendesk) -> None:
    admin.post("/connections", json=connection_body())

    response = admin.post("/connections", json=connection_body(name="SALESFORCE PROD"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_name"
    assert len(stored_rows(td)) == 1


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"placeholders": {}}, "token_url", "yourinstance"),
        ({"placeholders": {"yourinstance": "evil.com/x?"}}, "token_url", ""),
        (
            {
                "provider": "custom",
                "placeholders": {},
                "token_url": "http://idp.example.com/token",
                "authorization_url": "https://idp.example.com/auth",
            },
            "token_url",
            "https",
        ),
        (
            {
                "provider": "custom",
                "placeholders": {},
                "token_url": "https://idp.example.com/token#frag",
                "authorization_url": "https://idp.example.com/auth",
            },
            "token_url",
            "fragment",
        ),
        (
            {
                "provider": "custom",
                "placeholders": {},
                "token_url": "https://idp.example.com/token",
                "authorization_url": "https://idp.example.com/auth?client_id=x",
            },
            "authorization_url",
            "client_id",
        ),
        ({"scopes": ["api", "bad\u0007scope"]}, "scopes", ""),
        ({"name": "x" * 101}, "name", "100"),
        ({"name": "   "}, "name", ""),
        ({"client_id": ""}, "client_id", ""),
        ({"client_secret": ""}, "client_secret", ""),
        ({"invited_roles": ["Administrator"]}, "invited_roles", "system role"),
        ({"invited_roles": ["no such role"]}, "invited_roles", "no such role"),
    ],
)
def test_bad_fields_get_a_clear_error_and_store_nothing(
    admin: Api, td: Tokendesk, overrides: dict[str, Any], field: str, words: str
) -> None:
    response = admin.post("/connections", json=connection_body(**overrides))

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert words.lower() in error["message"].lower()
    assert CLIENT_SECRET not in response.text
    assert stored_rows(td) == []


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ('["a list"]', 422, "validation_error"),
        ('{"name": "x"}', 422, "validation_error"),
    ],
)
def test_malformed_bodies_are_refused_in_the_error_shape(
    admin: Api, td: Tokendesk, payload: str, status: int, code: str
) -> None:
    response = admin.post(
        "/connections", content=payload, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert stored_rows(td) == []


def test_unknown_fields_and_wrong_types_are_named(admin: Api, td: Tokendesk) -> None:
    unknown = admin.post("/connections", json=connection_body(status="active"))
    wrong = admin.post("/connections", json=connection_body(pkce="sometimes"))

    assert unknown.status_code == 422
    assert "'status' is not a known field" in unknown.json()["error"]["message"]
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "pkce"
    assert CLIENT_SECRET not in unknown.text + wrong.text
    assert stored_rows(td) == []


def test_an_unknown_provider_is_refused(admin: Api) -> None:
    response = admin.post("/connections", json=connection_body(provider="myspace"))

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_provider"


def test_a_client_credentials_connection_needs_no_authorization_url(admin: Api) -> None:
    response = admin.post(
        "/connections",
        json=connection_body(
            name="ServiceNow bots",
            provider="servicenow",
            grant_type="client_credentials",
            placeholders={"yourinstance": "acme"},
            scopes=None,
        ),
    )

    assert response.status_code == 201, response.text
    assert response.json()["authorization_url"] == ""
    assert response.json()["token_url"] == "https://acme.service-now.com/oauth_token.do"


def test_pkce_is_off_where_the_provider_does_not_allow_it(admin: Api) -> None:
    body = connection_body(name="Apigee", provider="apigee", placeholders={}, scopes=None)

    created = admin.post("/connections", json=body)
    forced = admin.post("/connections", json={**body, "name": "Apigee 2", "pkce": True})

    assert created.json()["pkce"] is False
    assert "prompt=consent&access_type=offline" in created.json()["authorization_url"]
    assert forced.status_code == 422 and forced.json()["error"]["field"] == "pkce"


def test_list_filters_by_provider_and_name(admin: Api) -> None:
    admin.post("/connections", json=connection_body())
    admin.post(
        "/connections",
        json=connection_body(name="Jira cloud", provider="jira", placeholders={}, scopes=None),
    )

    by_provider = admin.get("/connections", params={"provider": "jira"}).json()
    by_name = admin.get("/connections", params={"name": "sales"}).json()

    assert [c["name"] for c in by_provider] == ["Jira cloud"]
    assert [c["name"] for c in by_name] == ["Salesforce prod"]


def test_invited_roles_are_custom_roles_and_shown_by_name(admin: Api, td: Tokendesk) -> None:
    make_user(td, "bot", permissions=[])
    admin.post("/roles", json={"name": "Sales bots", "permissions": []})

    created = admin.post("/connections", json=connection_body(invited_roles=["sales bots"]))
    edited = admin.patch("/connections/Salesforce prod", json={"invited_roles": []})

    assert created.json()["invited_roles"] == ["Sales bots"]
    assert edited.json()["invited_roles"] == []


def test_without_manage_connections_changes_are_forbidden_and_change_nothing(
    admin: Api, td: Tokendesk
) -> None:
    admin.post("/connections", json=connection_body())
    viewer = Api(admin.http, make_user(td, "viewer", permissions=["oauth_connections.view"]))

    created = viewer.post("/connections", json=connection_body(name="Other"))
    edited = viewer.patch("/connections/Salesforce prod", json={"description": "defaced"})
    deleted = viewer.delete("/connections/Salesforce prod")
    shown = viewer.get("/connections/Salesforce prod")

    assert [r.status_code for r in (created, edited, deleted)] == [403, 403, 403]
    assert created.json()["error"]["code"] == "permission_denied"
    assert shown.status_code == 200
    assert shown.json()["description"] == "CRM for the sales bots"


def test_a_user_who_may_not_see_a_connection_gets_not_found(admin: Api, td: Tokendesk) -> None:
    admin.post("/connections", json=connection_body())
    stranger = Api(admin.http, make_user(td, "stranger"))

    shown = stranger.get("/connections/Salesforce prod")
    missing = stranger.get("/connections/does not exist")

    assert shown.status_code == missing.status_code == 404
    assert shown.json()["error"]["code"] == missing.json()["error"]["code"]
    assert stranger.get("/connections").json() == []


def test_delete_removes_the_connection_and_is_audited(admin: Api, td: Tokendesk) -> None:
    admin.post("/connections", json=connection_body())

    response = admin.delete("/connections/Salesforce prod")

    assert response.status_code == 204
    assert admin.get("/connections/Salesforce prod").status_code == 404
    with td.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_events.c.action))]
    assert actions.count("connection.create") == 1 and actions.count("connection.delete") == 1


def test_requests_without_a_valid_key_are_refused(admin: Api) -> None:
    anonymous = admin.http.get("/api/v1/connections")
    wrong = admin.http.get("/api/v1/connections", headers={"Authorization": "Bearer td_nope"})

    assert anonymous.status_code == wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_credentials"


def _cli():  # type: ignore[no-untyped-def]
    from tokendesk.domain.principal import command_line_principal

    return command_line_principal()
