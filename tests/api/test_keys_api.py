"""API keys through the REST API: shown once, stored hashed, acting as their user, revocable."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from support.api import Api, make_user
from tokendesk.storage.tables import api_keys
from tokendesk.wiring import Tokendesk


def stored_keys(td: Tokendesk) -> list[dict[str, Any]]:
    """Every stored key, without ``last_used_at`` (which each request may move)."""
    with td.engine.connect() as conn:
        rows = conn.execute(select(api_keys).order_by(api_keys.c.id))
        return [{k: v for k, v in r._mapping.items() if k != "last_used_at"} for r in rows]


def test_a_new_key_is_recognisable_shown_once_and_stored_only_as_a_hash(
    admin: Api, td: Tokendesk
) -> None:
    response = admin.post("/keys", json={"name": "Nightly bot"})

    assert response.status_code == 201, response.text
    created = response.json()
    key = created["key"]
    assert key.startswith("td_") and len(key) > 40
    assert key.startswith(created["prefix"] + "_")
    assert created["name"] == "Nightly bot" and created["user"] == "admin"
    listed = admin.get("/keys")
    assert listed.status_code == 200
    assert created["id"] in [k["id"] for k in listed.json()]
    assert key not in listed.text and '"key"' not in listed.text
    secret_part = key.split("_", 2)[2]  # td_<prefix>_<secret>; the secret may hold "_"
    for row in stored_keys(td):
        assert key not in str(row) and secret_part not in str(row)
    [row] = [r for r in stored_keys(td) if r["id"] == created["id"]]
    assert len(row["secret_hash"]) == 64 and row["secret_hash"] != key


def test_a_key_authenticates_as_its_user_with_his_permissions(admin: Api, td: Tokendesk) -> None:
    make_user(td, "bob", permissions=["oauth_connections.view"])
    created = admin.post("/keys", json={"name": "bob bot", "user": "bob"}).json()
    bob = Api(admin.http, created["key"])

    assert created["user"] == "bob"
    assert bob.get("/connections").status_code == 200
    assert bob.get("/users").status_code == 403
    assert [k["user"] for k in bob.get("/keys").json()] == ["bob", "bob"]


def test_a_revoked_key_is_refused_on_the_next_request(admin: Api) -> None:
    created = admin.post("/keys", json={"name": "Short lived"}).json()
    bot = Api(admin.http, created["key"])
    assert bot.get("/keys").status_code == 200

    revoked = admin.delete(f"/keys/{created['id']}")
    refused = bot.get("/keys")

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert created["key"] not in revoked.text
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_credentials"
    assert refused.headers["www-authenticate"].startswith("Bearer")


def test_a_key_can_be_revoked_by_its_prefix_and_twice_without_harm(admin: Api) -> None:
    created = admin.post("/keys", json={"name": "By prefix"}).json()

    first = admin.delete(f"/keys/{created['prefix']}")
    again = admin.delete(f"/keys/{created['prefix'].removeprefix('td_')}")

    assert first.status_code == again.status_code == 200
    assert first.json()["revoked_at"] == again.json()["revoked_at"]
    assert admin.get("/audit", params={"action": "api_key.revoke"}).json().__len__() == 1


def test_a_leaked_key_can_be_revoked_by_pasting_it_whole(admin: Api) -> None:
    key = admin.post("/keys", json={"name": "Leaked"}).json()["key"]
    secret = key.split("_", 2)[2]  # td_<prefix>_<secret>; the secret may itself hold "_"
    made_up = "td_0123456789ab_" + secret

    revoked = admin.delete(f"/keys/{key}")
    unknown = admin.delete(f"/keys/{made_up}")

    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert unknown.status_code == 404
    assert "td_0123456789ab" in unknown.json()["error"]["message"]
    for response in (revoked, unknown):
        assert secret not in response.text


def test_last_used_at_is_set_once_the_key_is_used(admin: Api) -> None:
    created = admin.post("/keys", json={"name": "Used"}).json()
    assert created["last_used_at"] is None

    Api(admin.http, created["key"]).get("/connections")

    [listed] = [k for k in admin.get("/keys").json() if k["id"] == created["id"]]
    assert listed["last_used_at"] is not None


def test_without_manage_users_one_manages_only_ones_own_keys(admin: Api, td: Tokendesk) -> None:
    bob = Api(admin.http, make_user(td, "bob"))
    admin_key = admin.post("/keys", json={"name": "admin laptop"}).json()
    before = stored_keys(td)

    own = bob.post("/keys", json={"name": "bob laptop"})
    own_by_name = bob.post("/keys", json={"name": "bob desktop", "user": "BOB"})
    for_admin = bob.post("/keys", json={"name": "sneaky", "user": "admin"})
    for_nobody = bob.post("/keys", json={"name": "probe", "user": "no-such-user"})
    listed = bob.get("/keys")
    revoke_admins = bob.delete(f"/keys/{admin_key['id']}")
    revoke_own = bob.delete(f"/keys/{own.json()['id']}")

    assert own.status_code == own_by_name.status_code == 201
    assert own.json()["user"] == "bob"
    assert for_admin.status_code == for_nobody.status_code == 403
    assert for_admin.json() == for_nobody.json()
    assert {k["user"] for k in listed.json()} == {"bob"}
    assert admin_key["id"] not in listed.text
    assert revoke_admins.status_code == 404
    assert revoke_own.status_code == 200
    after = {r["id"]: r for r in stored_keys(td)}
    assert all(after[r["id"]] == r for r in before if r["id"] != own.json()["id"])
    assert len(after) == len(before) + 2


def test_a_user_manager_creates_and_revokes_keys_for_others(admin: Api, td: Tokendesk) -> None:
    make_user(td, "bob")

    created = admin.post("/keys", json={"name": "for bob", "user": "bob"})
    revoked = admin.delete(f"/keys/{created.json()['id']}")
    unknown = admin.post("/keys", json={"name": "for nobody", "user": "nobody"})

    assert created.status_code == 201 and created.json()["user"] == "bob"
    assert revoked.status_code == 200
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "user_not_found"


def test_revoking_an_unknown_key_says_so(admin: Api) -> None:
    for ref in ("nope", "td_000000000000", "a%00b"):
        response = admin.delete(f"/keys/{ref}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "api_key_not_found"


BAD_AUTHORIZATION_HEADERS = [
    "Bearer",
    "Bearer ",
    "Basic YWRtaW46cGFzc3dvcmQ=",
    "Token td_abc",
    "td_abcdef012345_secret",
    "Bearer td_nope",
    "Bearer td_abcdef012345_wrong-secret",
    "Bearer not a key at all",
    "Bearer td_" + "x" * 5000,
]


def test_malformed_or_wrong_authorization_headers_are_refused_in_the_error_shape(
    admin: Api,
) -> None:
    for header in BAD_AUTHORIZATION_HEADERS:
        response = admin.http.get("/api/v1/keys", headers={"Authorization": header})

        assert response.status_code == 401, header
        error = response.json()["error"]
        assert error["code"] in ("authentication_required", "invalid_credentials")
        assert error["message"]
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "wrong-secret" not in response.text


def test_a_tampered_key_is_refused(admin: Api) -> None:
    key = admin.post("/keys", json={"name": "real"}).json()["key"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")

    response = admin.http.get("/api/v1/keys", headers={"Authorization": f"Bearer {tampered}"})

    assert response.status_code == 401


def test_no_credentials_at_all_asks_for_them(admin: Api) -> None:
    response = admin.http.get("/api/v1/keys")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_malformed_json_is_refused_and_stores_nothing(admin: Api, td: Tokendesk) -> None:
    before = stored_keys(td)

    response = admin.post("/keys", content='{"name": ',
                          headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert stored_keys(td) == before


WRONG_SHAPES: list[tuple[dict[str, Any], str]] = [
    ({"name": "x", "key": "td_chosen_by_me"}, "key"),
    ({"name": "x", "expires": "never"}, "expires"),
    ({"name": 7}, "name"),
    ({"name": "x", "user": ["admin"]}, "user"),
    ({}, "name"),
    ({"name": "  "}, "name"),
    ({"name": "x" * 101}, "name"),
]


def test_unknown_fields_and_wrong_types_are_named_and_store_nothing(
    admin: Api, td: Tokendesk
) -> None:
    before = stored_keys(td)

    for body, field in WRONG_SHAPES:
        response = admin.post("/keys", json=body)

        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["field"] == field, body
        assert "td_chosen_by_me" not in response.text
    assert stored_keys(td) == before


def refusals(admin: Api, td: Tokendesk) -> list[dict[str, Any]]:
    td.audit_buffer.flush()  # refusals go through the batched writer
    events: list[dict[str, Any]] = admin.get("/audit", params={"action": "api_key.use"}).json()
    return events


def test_refused_keys_are_audited_as_their_user_with_the_reason(admin: Api, td: Tokendesk) -> None:
    make_user(td, "bob", permissions=["oauth_connections.view"])
    revoked = admin.post("/keys", json={"name": "Old bot", "user": "bob"}).json()
    admin.delete(f"/keys/{revoked['id']}").raise_for_status()
    kept = admin.post("/keys", json={"name": "Live bot", "user": "bob"}).json()
    wrong_secret = kept["key"][:-4] + ("aaaa" if not kept["key"].endswith("aaaa") else "bbbb")

    for key in (revoked["key"], wrong_secret, "td_unknownprefix_whatever"):
        assert Api(admin.http, key).get("/connections").status_code == 401
    admin.patch("/users/bob", json={"disabled": True}).raise_for_status()
    assert Api(admin.http, kept["key"]).get("/connections").status_code == 401

    events = refusals(admin, td)
    seen = sorted((e["actor"], e["target"], e["outcome"], e["details"]["reason"]) for e in events)
    assert seen == [("bob", "Live bot", "denied", "user disabled"),
                    ("bob", "Live bot", "denied", "wrong secret"),
                    ("bob", "Old bot", "denied", "revoked key")]
    text = str(events)
    assert kept["key"] not in text and revoked["key"] not in text and wrong_secret not in text
