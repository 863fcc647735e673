"""The audit log through the REST API: every change, who made it, never a secret."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from support.api import ADMIN_PASSWORD, CLIENT_SECRET, Api, connection_body, make_user
from tokendesk.storage.tables import audit_events
from tokendesk.wiring import Tokendesk

USER_PASSWORD = "alice-long-secret-passphrase"
PROXY_PASSWORD = "proxy-secret-passphrase"


def audit_rows(td: Tokendesk) -> list[dict[str, Any]]:
    with td.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(audit_events).order_by(audit_events.c.id))]


def make_every_kind_of_change(admin: Api) -> str:
    """Users, roles, keys, connections and proxy changes; returns the plaintext API key made."""
    admin.post("/roles", json={"name": "Sales bots", "permissions": ["oauth_connections.view"]})
    admin.patch("/roles/Sales bots", json={"description": "Bots of sales"})
    admin.post("/users", json={"username": "alice", "password": USER_PASSWORD,
                               "roles": ["Sales bots"]})
    admin.patch("/users/alice", json={"password": USER_PASSWORD + "-2", "disabled": True})
    key = admin.post("/keys", json={"name": "alice bot", "user": "alice"}).json()
    admin.delete(f"/keys/{key['id']}")
    admin.post("/connections", json=connection_body(invited_roles=["Sales bots"]))
    admin.patch("/connections/Salesforce prod", json={"client_secret": CLIENT_SECRET + "-2"})
    admin.put("/settings/proxy", json={"enabled": True, "host": "proxy.example", "port": 3128,
                                       "auth": "basic", "username": "svc",
                                       "password": PROXY_PASSWORD})
    admin.delete("/roles/Sales bots")
    return str(key["key"])


def test_every_change_is_recorded_with_actor_action_target_and_outcome(admin: Api) -> None:
    make_every_kind_of_change(admin)

    response = admin.get("/audit", params={"actor": "admin", "limit": 1000})

    assert response.status_code == 200
    events = response.json()
    recorded = [(e["action"], e["target"]) for e in reversed(events)]
    assert recorded == [
        ("role.create", "Sales bots"),
        ("role.update", "Sales bots"),
        ("user.create", "alice"),
        ("user.update", "alice"),
        ("api_key.create", "alice bot"),
        ("api_key.revoke", "alice bot"),
        ("connection.create", "Salesforce prod"),
        ("connection.update", "Salesforce prod"),
        ("settings.proxy.update", "forward_proxy"),
        ("role.delete", "Sales bots"),
    ]
    assert {e["actor"] for e in events} == {"admin"}
    assert {e["via"] for e in events} == {"api_key"}
    assert {e["outcome"] for e in events} == {"success"}
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)


def test_no_audit_event_contains_a_password_secret_or_key(admin: Api, td: Tokendesk) -> None:
    key = make_every_kind_of_change(admin)

    response = admin.get("/audit", params={"limit": 1000})

    stored = str(audit_rows(td))
    for secret in (USER_PASSWORD, PROXY_PASSWORD, CLIENT_SECRET, ADMIN_PASSWORD, key,
                   key.split("_", 2)[2], admin.key, "argon2"):
        assert secret not in stored
        assert secret not in response.text


def test_the_log_filters_by_actor_action_and_connection(admin: Api, td: Tokendesk) -> None:
    bob = Api(admin.http, make_user(td, "bob", permissions=["oauth_connections.manage"]))
    admin.post("/connections", json=connection_body())
    admin.post("/connections", json=connection_body(name="Jira", provider="jira",
                                                    placeholders={}, scopes=None))
    bob.patch("/connections/Salesforce prod", json={"description": "by bob"})
    admin.post("/roles", json={"name": "Other", "permissions": []})

    by_actor = admin.get("/audit", params={"actor": "bob"}).json()
    by_action = admin.get("/audit", params={"action": "connection.create"}).json()
    by_connection = admin.get("/audit", params={"connection": "salesforce PROD"}).json()
    combined = admin.get("/audit", params={"connection": "Salesforce prod", "actor": "admin"})

    assert [(e["actor"], e["action"]) for e in by_actor] == [("bob", "connection.update")]
    assert [e["target"] for e in by_action] == ["Jira", "Salesforce prod"]
    assert [e["action"] for e in by_connection] == ["connection.update", "connection.create"]
    assert [e["action"] for e in combined.json()] == ["connection.create"]


def test_the_log_pages_backwards_with_before_id_and_limit(admin: Api) -> None:
    for n in range(3):
        admin.post("/roles", json={"name": f"Role {n}", "permissions": []})

    first = admin.get("/audit", params={"action": "role.create", "limit": 2}).json()
    rest = admin.get("/audit", params={"action": "role.create",
                                       "before_id": first[-1]["id"]}).json()

    assert [e["target"] for e in first] == ["Role 2", "Role 1"]
    assert [e["target"] for e in rest] == ["Role 0"]


def test_times_without_a_zone_are_read_as_utc(admin: Api) -> None:
    admin.post("/roles", json={"name": "Recent", "permissions": []})

    naive = admin.get("/audit", params={"since": "2000-01-01T00:00:00", "action": "role.create"})
    aware = admin.get("/audit", params={"until": "2000-01-01T00:00:00+02:00"})

    assert naive.status_code == 200, naive.text
    assert [e["target"] for e in naive.json()] == ["Recent"]
    assert aware.status_code == 200 and aware.json() == []


BAD_FILTERS: list[tuple[dict[str, Any], str]] = [
    ({"limit": 0}, "limit"),
    ({"limit": 100_000}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"before_id": 10**12}, "before_id"),
    ({"since": "yesterday"}, "since"),
    ({"actor": "x" * 500}, "actor"),
    ({"action": "user.create\x00"}, "action"),
]


def test_bad_filters_are_refused_naming_the_parameter(admin: Api) -> None:
    for params, field in BAD_FILTERS:
        response = admin.get("/audit", params=params)

        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["field"] == field, params


def test_filtering_by_an_unknown_connection_says_so(admin: Api) -> None:
    response = admin.get("/audit", params={"connection": "Nope"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "connection_not_found"


def test_without_view_audit_log_the_log_is_forbidden(admin: Api, td: Tokendesk) -> None:
    admin.post("/connections", json=connection_body())
    manager = Api(admin.http, make_user(td, "manager", permissions=[
        "oauth_connections.manage", "administration.users", "administration.roles",
        "administration.settings"]))

    plain = manager.get("/audit")
    by_known = manager.get("/audit", params={"connection": "Salesforce prod"})
    by_unknown = manager.get("/audit", params={"connection": "Nope"})

    for response in (plain, by_known, by_unknown):
        assert response.status_code == 403
        assert "View audit log" in response.json()["error"]["message"]


def test_an_auditor_reads_the_log_even_for_connections_he_may_not_open(
    admin: Api, td: Tokendesk
) -> None:
    admin.post("/connections", json=connection_body())
    auditor = Api(admin.http, make_user(td, "auditor", permissions=["administration.audit"]))

    response = auditor.get("/audit", params={"connection": "Salesforce prod"})

    assert response.status_code == 200
    assert [e["action"] for e in response.json()] == ["connection.create"]
    assert auditor.get("/connections/Salesforce prod").status_code == 404


def test_the_system_auditor_role_reads_the_log(admin: Api, td: Tokendesk) -> None:
    auditor = Api(admin.http, make_user(td, "auditor", roles=["Auditor"]))

    assert auditor.get("/audit").status_code == 200
