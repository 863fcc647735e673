"""The forward proxy settings through the REST API: validated, password sealed and write-only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from support.api import Api, make_user
from tokendesk.storage.tables import audit_events, forward_proxy
from tokendesk.wiring import Tokendesk

PROXY_PASSWORD = "pr0xy-pa55word-do-not-leak"


def stored_proxy(td: Tokendesk) -> dict[str, Any] | None:
    with td.engine.connect() as conn:
        row = conn.execute(select(forward_proxy)).first()
        return dict(row._mapping) if row else None


def proxy_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "enabled": True, "scheme": "http", "host": "proxy.corp.example", "port": 3128,
        "auth": "basic", "username": "svc-tokendesk", "password": PROXY_PASSWORD,
        "bypass": ["localhost", "*.internal.example", "10.0.0.0/8"],
    }
    body.update(overrides)
    return body


def test_the_proxy_is_disabled_until_configured(admin: Api) -> None:
    response = admin.get("/settings/proxy")

    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert response.json()["password_stored"] is False
    assert response.json()["bypass"] == []


def test_basic_auth_stores_the_password_encrypted_and_never_shows_it(
    admin: Api, td: Tokendesk
) -> None:
    saved = admin.put("/settings/proxy", json=proxy_body())
    shown = admin.get("/settings/proxy")
    audit = admin.get("/audit")

    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["enabled"] is True and body["host"] == "proxy.corp.example"
    assert body["port"] == 3128 and body["auth"] == "basic"
    assert body["username"] == "svc-tokendesk"
    assert body["password_stored"] is True and "password" not in body
    assert body["bypass"] == ["localhost", "*.internal.example", "10.0.0.0/8"]
    assert body["updated_by"] == "admin"
    assert shown.json() == body
    for response in (saved, shown, audit):
        assert PROXY_PASSWORD not in response.text
    row = stored_proxy(td)
    assert row is not None and PROXY_PASSWORD not in str(row)
    assert row["password_ct"].startswith(f"v1:{td.keyring.active_key_id}:")
    with td.transaction() as tx:
        secret = td.proxy.password(tx)
    assert secret is not None and secret.reveal() == PROXY_PASSWORD


def test_saving_without_a_password_keeps_the_stored_one(admin: Api, td: Tokendesk) -> None:
    admin.put("/settings/proxy", json=proxy_body())
    before = stored_proxy(td)
    assert before is not None

    without = admin.put("/settings/proxy", json=proxy_body(password=None, bypass=["localhost"]))
    absent = admin.put("/settings/proxy", json={k: v for k, v in proxy_body().items()
                                                if k != "password"})

    assert without.status_code == absent.status_code == 200
    assert absent.json()["password_stored"] is True
    after = stored_proxy(td)
    assert after is not None and after["password_ct"] == before["password_ct"]
    with td.transaction() as tx:
        secret = td.proxy.password(tx)
    assert secret is not None and secret.reveal() == PROXY_PASSWORD


@pytest.mark.parametrize("moved", [{"host": "proxy.elsewhere.example"}, {"port": 8080},
                                   {"scheme": "https"}])
def test_moving_the_proxy_to_another_server_needs_the_password_again(
    admin: Api, td: Tokendesk, moved: dict[str, Any]
) -> None:
    admin.put("/settings/proxy", json=proxy_body())
    before = stored_proxy(td)

    refused = admin.put("/settings/proxy", json=proxy_body(password=None, **moved))
    retyped = admin.put("/settings/proxy", json=proxy_body(password="typed-again", **moved))

    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "proxy_password_required"
    assert error["message"] == (
        "The proxy now points at another server; enter the proxy password again.")
    assert retyped.status_code == 200, retyped.text
    assert retyped.json() | {"updated_at": None} == {**retyped.json(), **moved, "updated_at": None}
    assert before is not None and stored_proxy(td) != before


def test_a_new_password_replaces_the_stored_one(admin: Api, td: Tokendesk) -> None:
    admin.put("/settings/proxy", json=proxy_body())

    admin.put("/settings/proxy", json=proxy_body(password="a-new-proxy-password"))

    with td.transaction() as tx:
        secret = td.proxy.password(tx)
    assert secret is not None and secret.reveal() == "a-new-proxy-password"


def test_switching_to_no_authentication_clears_the_password(admin: Api, td: Tokendesk) -> None:
    admin.put("/settings/proxy", json=proxy_body())

    response = admin.put("/settings/proxy", json=proxy_body(auth="none", password=None))

    assert response.status_code == 200, response.text
    assert response.json()["password_stored"] is False
    assert response.json()["username"] == ""
    row = stored_proxy(td)
    assert row is not None and row["password_ct"] is None


def test_basic_auth_needs_a_password_the_first_time(admin: Api, td: Tokendesk) -> None:
    response = admin.put("/settings/proxy", json=proxy_body(password=None))

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "password"
    assert stored_proxy(td) is None


BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({"host": ""}, "host"),
    ({"port": None}, "port"),
    ({"host": "http://proxy.corp.example"}, "host"),
    ({"host": "proxy.corp.example:3128"}, "host"),
    ({"port": 0}, "port"),
    ({"port": 70000}, "port"),
    ({"scheme": "socks5"}, "scheme"),
    ({"auth": "ntlm"}, "auth"),
    ({"username": ""}, "username"),
    ({"username": "svc:tokendesk"}, "username"),
    ({"bypass": ["not a host"]}, "bypass"),
    ({"bypass": "localhost, 10.0.0.0/33"}, "bypass"),
    ({"bypass": ["*.bad_domain!"]}, "bypass"),
    ({"bypass": ["10.0.0.256"]}, "bypass"),
    ({"bypass": [f"host{n}.example" for n in range(201)]}, "bypass"),
    ({"host": "300.1.1.1"}, "host"),
    ({"auth": "none", "password": PROXY_PASSWORD}, "password"),
]


def test_bad_settings_are_refused_naming_the_field_and_change_nothing(
    admin: Api, td: Tokendesk
) -> None:
    admin.put("/settings/proxy", json=proxy_body(enabled=False))
    before = stored_proxy(td)

    for overrides, field in BAD_SETTINGS:
        response = admin.put("/settings/proxy", json=proxy_body(**overrides))

        assert response.status_code == 422, (overrides, response.text)
        assert response.json()["error"]["field"] == field, overrides
        assert response.json()["error"]["message"]
        assert PROXY_PASSWORD not in response.text
    assert stored_proxy(td) == before


def test_a_disabled_proxy_may_be_saved_without_host_and_port(admin: Api) -> None:
    response = admin.put("/settings/proxy", json={"enabled": False})

    assert response.status_code == 200
    assert response.json()["enabled"] is False


def test_the_bypass_list_may_be_one_comma_separated_string(admin: Api) -> None:
    response = admin.put("/settings/proxy", json=proxy_body(
        bypass="Localhost, .corp.example,192.168.1.10, ::1"))

    assert response.status_code == 200, response.text
    assert response.json()["bypass"] == ["localhost", "*.corp.example", "192.168.1.10", "::1"]


def test_only_network_settings_permission_reads_or_changes_the_proxy(
    admin: Api, td: Tokendesk
) -> None:
    admin.put("/settings/proxy", json=proxy_body())
    before = stored_proxy(td)
    other = Api(admin.http, make_user(td, "other", permissions=[
        "administration.users", "administration.roles", "administration.audit",
        "oauth_connections.manage"]))
    settings_admin = Api(admin.http, make_user(td, "net", permissions=["administration.settings"]))

    read = other.get("/settings/proxy")
    changed = other.put("/settings/proxy", json=proxy_body(host="evil.example", password=None))

    for response in (read, changed):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
        assert "Network settings" in response.json()["error"]["message"]
    assert stored_proxy(td) == before
    assert settings_admin.get("/settings/proxy").status_code == 200


def test_a_proxy_change_is_audited_without_the_password(admin: Api, td: Tokendesk) -> None:
    admin.put("/settings/proxy", json=proxy_body())
    admin.put("/settings/proxy", json=proxy_body(auth="none", password=None))

    with td.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(audit_events).where(audit_events.c.action == "settings.proxy.update")
            .order_by(audit_events.c.id))]

    assert [r["details"]["password"] for r in rows] == ["set", "cleared"]
    assert all(r["actor"] == "admin" and r["outcome"] == "success" for r in rows)
    assert PROXY_PASSWORD not in str(rows)


def test_malformed_json_is_refused_and_changes_nothing(admin: Api, td: Tokendesk) -> None:
    response = admin.put("/settings/proxy",
                         content='{"enabled": true, "password": "' + PROXY_PASSWORD + '",}',
                         headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert PROXY_PASSWORD not in response.text
    assert stored_proxy(td) is None


WRONG_SHAPES: list[tuple[dict[str, Any], str]] = [
    ({"password_stored": True}, "password_stored"),
    ({"no_proxy": "localhost"}, "no_proxy"),
    ({"port": "eighty"}, "port"),
    ({"enabled": "maybe"}, "enabled"),
    ({"password": 123456789}, "password"),
    ({"password": [PROXY_PASSWORD]}, "password"),
    ({"bypass": [1, 2]}, "bypass"),
]


def test_unknown_fields_and_wrong_types_are_named_and_change_nothing(
    admin: Api, td: Tokendesk
) -> None:
    for overrides, field in WRONG_SHAPES:
        response = admin.put("/settings/proxy", json=proxy_body(**overrides))

        assert response.status_code == 422, (overrides, response.text)
        assert response.json()["error"]["field"].split(".")[0] == field, overrides
        assert PROXY_PASSWORD not in response.text and "123456789" not in response.text
    assert stored_proxy(td) is None


def test_enabled_is_required(admin: Api, td: Tokendesk) -> None:
    response = admin.put("/settings/proxy", json={"host": "proxy.corp.example"})

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "enabled"
    assert stored_proxy(td) is None


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("169.254.169.254", "link-local or cloud metadata"),
        ("fd00:ec2::254", "link-local or cloud metadata"),
        ("10.1.2.3", "private"),
        ("2002:a9fe:a9fe::1", "link-local or cloud metadata (embedded IPv4 169.254.169.254)"),
        ("127.0.0.1", "loopback"),
    ],
)
def test_a_proxy_host_the_egress_policy_refuses_is_refused_and_the_refusal_audited(
    admin: Api, td: Tokendesk, host: str, reason: str
) -> None:
    response = admin.put("/settings/proxy", json=proxy_body(host=host))
    td.audit_buffer.flush()  # the refused transaction rolled back; the refusal is written apart

    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "host"
    assert f"is a {reason} address" in response.json()["error"]["message"]
    assert "egress allowlist" in response.json()["error"]["message"]
    assert stored_proxy(td) is None
    with td.engine.connect() as conn:
        refused = conn.execute(select(audit_events).where(
            audit_events.c.action == "settings.proxy.update")).one()
    assert (refused.actor, refused.outcome) == ("admin", "denied")
    assert refused.details["field"] == "host" and reason in refused.details["reason"]
    assert PROXY_PASSWORD not in str(refused.details)


def test_a_private_proxy_host_is_accepted_once_allowlisted(admin: Api, td: Tokendesk) -> None:
    allowed = admin.put("/settings/egress", json={"allowlist": ["10.1.2.0/24"]})

    response = admin.put("/settings/proxy", json=proxy_body(host="10.1.2.3"))

    assert allowed.status_code == 200, allowed.text
    assert response.status_code == 200, response.text
    assert response.json()["host"] == "10.1.2.3"
