"""A connection's proxy through the REST API: global by default, none, or its own with a
write-only password sealed like the client secret."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from support.api import Api, connection_body
from tokendesk.crypto import RowRef
from tokendesk.storage.ciphertexts import count_by_key, sealed_with
from tokendesk.storage.tables import connections
from tokendesk.wiring import Tokendesk

PROXY_PASSWORD = "on-prem-pr0xy-do-not-leak"
NAME = "Salesforce prod"


def stored_row(td: Tokendesk) -> dict[str, Any]:
    with td.engine.connect() as conn:
        [row] = conn.execute(select(connections)).all()
        return dict(row._mapping)


def own_proxy(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "proxy_mode": "own", "proxy_url": "http://proxy.onprem.example:8080",
        "proxy_username": "svc-desk", "proxy_password": PROXY_PASSWORD,
        "proxy_bypass": ["*.internal.example", "10.0.0.0/8"],
    }
    body.update(overrides)
    return body


def test_a_new_connection_uses_the_global_forward_proxy(admin: Api) -> None:
    created = admin.post("/connections", json=connection_body())

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["proxy_mode"] == "global"
    assert body["proxy_url"] is None and body["proxy_username"] == ""
    assert body["proxy_password_stored"] is False and body["proxy_bypass"] == []


def test_its_own_proxy_is_stored_with_the_password_sealed_and_never_shown(
    admin: Api, td: Tokendesk
) -> None:
    created = admin.post("/connections", json=connection_body(**own_proxy()))
    shown = admin.get(f"/connections/{NAME}")
    listed = admin.get("/connections")
    audit = admin.get("/audit")

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["proxy_mode"] == "own"
    assert body["proxy_url"] == "http://proxy.onprem.example:8080"
    assert body["proxy_username"] == "svc-desk"
    assert body["proxy_password_stored"] is True
    assert body["proxy_bypass"] == ["*.internal.example", "10.0.0.0/8"]
    assert "proxy_password" not in body
    assert shown.json() == body
    for response in (created, shown, listed, audit):
        assert PROXY_PASSWORD not in response.text
    row = stored_row(td)
    assert PROXY_PASSWORD not in str(row)
    assert row["proxy_password_ct"].startswith(f"v1:{td.keyring.active_key_id}:")
    ref = RowRef("connections", "proxy_password_ct", row["id"])
    assert td.keyring.decrypt(row["proxy_password_ct"], ref) == PROXY_PASSWORD


def test_an_edit_without_the_password_keeps_it_for_the_same_proxy(
    admin: Api, td: Tokendesk
) -> None:
    admin.post("/connections", json=connection_body(**own_proxy()))
    before = stored_row(td)["proxy_password_ct"]

    edited = admin.patch(f"/connections/{NAME}", json={"proxy_bypass": "localhost"})

    assert edited.status_code == 200, edited.text
    assert edited.json()["proxy_bypass"] == ["localhost"]
    assert edited.json()["proxy_password_stored"] is True
    assert stored_row(td)["proxy_password_ct"] == before
    [audited] = admin.get("/audit", params={"action": "connection.update"}).json()
    assert audited["details"]["changes"]["proxy"] == {
        "mode": "own", "url": "http://proxy.onprem.example:8080", "username": "svc-desk",
        "bypass": 1, "password": "kept"}


def test_moving_the_proxy_without_typing_its_password_again_is_refused(
    admin: Api, td: Tokendesk
) -> None:
    admin.post("/connections", json=connection_body(**own_proxy()))
    before = stored_row(td)

    moved = admin.patch(f"/connections/{NAME}",
                        json={"proxy_url": "http://elsewhere.example:3128"})

    assert moved.status_code == 422, moved.text
    error = moved.json()["error"]
    assert error["code"] == "proxy_password_required"
    assert "password" in error["message"]
    assert stored_row(td)["proxy_url"] == before["proxy_url"]


def test_none_and_global_forget_the_own_proxy_and_its_password(
    admin: Api, td: Tokendesk
) -> None:
    admin.post("/connections", json=connection_body(**own_proxy()))

    direct = admin.patch(f"/connections/{NAME}", json={"proxy_mode": "none"})

    assert direct.status_code == 200, direct.text
    assert direct.json()["proxy_mode"] == "none"
    assert direct.json()["proxy_url"] is None
    assert direct.json()["proxy_password_stored"] is False
    assert stored_row(td)["proxy_password_ct"] is None
    back = admin.patch(f"/connections/{NAME}", json={"proxy_mode": "global"})
    assert back.json()["proxy_mode"] == "global"


def test_bad_proxy_fields_get_errors_naming_the_field(admin: Api) -> None:
    cases = [
        (own_proxy(proxy_url="http://svc:secret@proxy.example:8080"), "proxy_url"),
        (own_proxy(proxy_url="http://proxy.example"), "proxy_url"),
        (own_proxy(proxy_url="ftp://proxy.example:21"), "proxy_url"),
        (own_proxy(proxy_url=None), "proxy_url"),
        (own_proxy(proxy_password=None), "proxy_password"),
        (own_proxy(proxy_username="", proxy_password="x"), "proxy_username"),
        (own_proxy(proxy_bypass=["not a host"]), "proxy_bypass"),
        (own_proxy(proxy_url="http://169.254.169.254:80"), "proxy_url"),  # cloud metadata
        ({"proxy_mode": "none", "proxy_url": "http://proxy.example:8080"}, "proxy_url"),
    ]
    for fields, field in cases:
        response = admin.post("/connections", json=connection_body(**fields))

        assert response.status_code == 422, (fields, response.text)
        error = response.json()["error"]
        assert error.get("field") == field, (fields, error)
        assert PROXY_PASSWORD not in response.text
    assert admin.get("/connections").json() == []


def test_an_unknown_proxy_mode_is_refused(admin: Api) -> None:
    response = admin.post("/connections", json=connection_body(proxy_mode="sometimes"))

    assert response.status_code == 422
    assert "proxy_mode" in response.text


def test_key_rotation_counts_and_finds_the_sealed_proxy_password(
    admin: Api, td: Tokendesk
) -> None:
    admin.post("/connections", json=connection_body(**own_proxy()))
    row = stored_row(td)

    with td.transaction() as tx:
        counted = count_by_key(tx, td.keyring.active_key_id)
        sealed = dict(sealed_with(tx, td.keyring.active_key_id))

    assert counted == 2  # the client secret and the proxy password
    assert sealed[RowRef("connections", "proxy_password_ct", row["id"])] == row[
        "proxy_password_ct"]
