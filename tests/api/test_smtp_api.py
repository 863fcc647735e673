"""The SMTP settings of e-mail notifications through the REST API: administrators with
Network settings only, validated by field, the password sealed and write-only; and users'
e-mail addresses."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from support.api import Api, make_user
from tokendesk.storage.tables import smtp_settings
from tokendesk.wiring import Tokendesk

SMTP_PASSWORD = "smtp-pa55word-do-not-leak"


def smtp_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "enabled": True, "host": "mail.corp.example", "port": 587, "starttls": True,
        "username": "tokendesk", "password": SMTP_PASSWORD,
        "from_address": "tokendesk@corp.example",
    }
    body.update(overrides)
    return body


def stored(td: Tokendesk) -> dict[str, Any]:
    with td.engine.connect() as conn:
        row = conn.execute(select(smtp_settings)).first()
        assert row is not None
        return dict(row._mapping)


def test_email_is_off_until_configured(admin: Api) -> None:
    response = admin.get("/settings/smtp")

    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert response.json()["password_stored"] is False


def test_the_password_is_stored_encrypted_and_never_shown(admin: Api, td: Tokendesk) -> None:
    saved = admin.put("/settings/smtp", json=smtp_body())
    shown = admin.get("/settings/smtp")
    audit = admin.get("/audit")

    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["host"] == "mail.corp.example" and body["port"] == 587
    assert body["starttls"] is True and body["username"] == "tokendesk"
    assert body["password_stored"] is True and "password" not in body
    assert body["updated_by"] == "admin"
    assert shown.json() == body
    for response in (saved, shown, audit):
        assert SMTP_PASSWORD not in response.text
    assert "settings.smtp.update" in audit.text
    row = stored(td)
    assert row["password_ct"] and SMTP_PASSWORD not in str(row)


def test_an_absent_password_keeps_the_stored_one_but_not_for_another_server(
    admin: Api,
) -> None:
    admin.put("/settings/smtp", json=smtp_body())
    body = smtp_body()
    del body["password"]

    kept = admin.put("/settings/smtp", json={**body, "port": 2525})
    moved = admin.put("/settings/smtp", json={**body, "host": "other.corp.example"})

    assert kept.status_code == 200 and kept.json()["password_stored"] is True
    assert moved.status_code == 422
    assert moved.json()["error"]["field"] == "password"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"host": ""}, "host"),
        ({"from_address": "not an address"}, "from_address"),
        ({"from_address": ""}, "from_address"),
        ({"port": 0}, "port"),
        ({"username": "", "password": "x"}, "password"),
        ({"host": "169.254.169.254"}, "host"),
    ],
)
def test_bad_settings_are_refused_by_field(
    admin: Api, overrides: dict[str, Any], field: str
) -> None:
    response = admin.put("/settings/smtp", json=smtp_body(**overrides))

    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"].split(".")[0] == field
    assert SMTP_PASSWORD not in response.text


def test_only_administrators_with_network_settings_see_or_change_it(
    admin: Api, td: Tokendesk
) -> None:
    manager = Api(admin.http, make_user(td, "manager", permissions=["oauth_connections.manage"]))

    assert manager.get("/settings/smtp").status_code == 403
    assert manager.put("/settings/smtp", json=smtp_body()).status_code == 403


def test_a_user_has_an_optional_email_address(admin: Api) -> None:
    created = admin.post("/users", json={"username": "alice", "password": "a-long-password-1",
                                         "email": "alice@example.com"})
    cleared = admin.patch("/users/alice", json={"email": ""})
    refused = admin.patch("/users/alice", json={"email": "alice at example"})

    assert created.status_code == 201, created.text
    assert created.json()["email"] == "alice@example.com"
    assert cleared.json()["email"] is None
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "email"
