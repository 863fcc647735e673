"""The desk file through the REST API (issue 15, item 2): ``GET /api/v1/desk-file/schema``
and ``POST /api/v1/apply`` (administrators only; secret references read on the server, only
``{env: TOKENDESK_SECRET_...}``)."""

from __future__ import annotations

from typing import Any

import pytest

from support.api import Api, make_user
from tokendesk.domain.principal import command_line_principal
from tokendesk.services.desk.file import published_schema
from tokendesk.wiring import Tokendesk

SECRET = "sn-9c1e-client-secret-from-env"


def desk(client_secret: dict[str, str]) -> dict[str, Any]:
    return {"version": 1,
            "roles": [{"name": "ServiceNow bots", "permissions": ["oauth_connections.view"]}],
            "connections": [{
                "name": "ServiceNow bots", "provider": "servicenow",
                "grant_type": "client_credentials", "client_id": "sn-client",
                "client_secret": client_secret, "placeholders": {"yourinstance": "acme"},
                "invited_roles": ["ServiceNow bots"]}]}


def names(td: Tokendesk) -> list[str]:
    with td.transaction(read_only=True) as tx:
        return [c.name for c in td.connections.search(tx, command_line_principal())]


def test_the_schema_is_served_as_published(admin: Api) -> None:
    response = admin.get("/desk-file/schema")

    assert response.status_code == 200
    assert response.json() == published_schema()


def test_a_dry_run_plans_and_an_apply_applies_once(
    admin: Api, td: Tokendesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENDESK_SECRET_SERVICENOW_BOTS", SECRET)
    body = {"desk": desk({"env": "TOKENDESK_SECRET_SERVICENOW_BOTS"})}

    planned = admin.post("/apply", json={**body, "dry_run": True})
    assert planned.status_code == 200, planned.text
    assert names(td) == []
    applied = admin.post("/apply", json=body)
    again = admin.post("/apply", json=body)

    assert planned.json()["summary"] == {"create": 2, "update": 0, "delete": 0}
    assert [(c["action"], c["kind"], c["name"]) for c in planned.json()["changes"]] == [
        ("create", "role", "ServiceNow bots"), ("create", "connection", "ServiceNow bots")]
    assert applied.json()["changes"] == planned.json()["changes"]
    assert applied.json()["applied"] is True
    assert names(td) == ["ServiceNow bots"]
    assert again.json()["changes"] == []
    for response in (planned, applied, again):
        assert SECRET not in response.text
    with td.transaction(read_only=True) as tx:
        connection = td.connections.get(tx, command_line_principal(), "ServiceNow bots")
        assert td.connections.client_secret(tx, connection).reveal() == SECRET


def test_only_an_administrator_may_apply_or_export(td: Tokendesk, admin: Api) -> None:
    manager = Api(admin.http, make_user(td, "manager", permissions=[
        "oauth_connections.manage", "administration.roles"]))

    applied = manager.post("/apply", json={"desk": desk({"env": "TOKENDESK_SECRET_X"}),
                                           "dry_run": True})
    exported = manager.get("/desk-file")

    for response in (applied, exported):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"


def test_the_export_through_the_api_is_what_applying_it_again_leaves_unchanged(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENDESK_SECRET_SERVICENOW_BOTS", SECRET)
    admin.post("/apply", json={"desk": desk({"env": "TOKENDESK_SECRET_SERVICENOW_BOTS"})})

    exported = admin.get("/desk-file")
    again = admin.post("/apply", json={"desk": exported.json(), "dry_run": True})

    assert exported.status_code == 200
    assert SECRET not in exported.text
    [connection] = exported.json()["connections"]
    assert connection["client_secret"] == {"env": "TOKENDESK_SECRET_SERVICENOW_BOTS"}
    assert again.json()["changes"] == []


@pytest.mark.parametrize(("reference", "said"), [
    ({"env": "TOKENDESK_ENCRYPTION_KEYS"},
     "the environment variable TOKENDESK_ENCRYPTION_KEYS cannot be used here"),
    ({"file": "/etc/hostname"}, "a desk file applied through the API cannot read files"),
    ({"env": "TOKENDESK_SECRET_NOT_SET"},
     "the environment variable TOKENDESK_SECRET_NOT_SET is not set"),
])
def test_the_server_reads_only_its_own_secret_variables(
    admin: Api, td: Tokendesk, reference: dict[str, str], said: str
) -> None:
    response = admin.post("/apply", json={"desk": desk(reference)})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "secret_reference_unresolved"
    assert error["field"] == "connections[0] 'ServiceNow bots'.client_secret"
    assert said in error["message"]
    assert names(td) == []


def test_an_unknown_key_in_the_desk_is_refused(admin: Api) -> None:
    body = desk({"env": "TOKENDESK_SECRET_X"})
    body["connections"][0]["secret"] = "typed by mistake"

    response = admin.post("/apply", json={"desk": body, "dry_run": True})

    assert response.status_code == 422
    assert "'desk.connections.0.secret' is not a known field" in response.json()["error"]["message"]
    assert "typed by mistake" not in response.text


def test_a_webhook_applied_through_the_api_is_exported_by_reference_and_unchanged_again(
    admin: Api, td: Tokendesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    signing_secret = "whsec_" + "YS1zaWduaW5nLXNlY3JldC1vZi10aGlydHktdHdvLWJ5dGU="
    monkeypatch.setenv("TOKENDESK_SECRET_HOOKS", signing_secret)
    # Where the exported file is applied again, its suggested name holds the same secret.
    monkeypatch.setenv("TOKENDESK_SECRET_WEBHOOK_HOOKS_EXAMPLE_TEST", signing_secret)
    hook = {"url": "https://hooks.example.test/desk", "events": ["token.refresh_failed"],
            "signing_secret": {"env": "TOKENDESK_SECRET_HOOKS"}}

    applied = admin.post("/apply", json={"desk": {"version": 1, "webhooks": [hook]}})
    exported = admin.get("/desk-file")
    again = admin.post("/apply", json={"desk": exported.json(), "dry_run": True})

    assert applied.status_code == 200, applied.text
    assert [(c["action"], c["kind"], c["name"]) for c in applied.json()["changes"]] == [
        ("create", "webhook", "https://hooks.example.test/desk")]
    [webhook] = exported.json()["webhooks"]
    assert webhook["signing_secret"] == {"env": "TOKENDESK_SECRET_WEBHOOK_HOOKS_EXAMPLE_TEST"}
    assert again.status_code == 200, again.text
    assert again.json()["changes"] == []
    assert again.json()["unchanged"][-1] == "webhook 'https://hooks.example.test/desk'"
    with td.transaction(read_only=True) as tx:
        [stored] = td.webhooks.all(tx, command_line_principal())
        assert td.webhooks.signing_secret(stored).reveal() == signing_secret
    for response in (applied, exported, again):
        assert signing_secret not in response.text
