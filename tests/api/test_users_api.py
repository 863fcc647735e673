"""Managing users through the REST API: argon2 hashes, unique names, roles, disabling."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from support.api import ADMIN_PASSWORD, Api, make_user
from tokendesk.services.passwords import verify_password
from tokendesk.storage.tables import api_keys, user_roles, users
from tokendesk.wiring import Tokendesk

NEW_PASSWORD = "a-long-and-unguessable-passphrase"


def stored_users(td: Tokendesk) -> dict[str, dict[str, Any]]:
    with td.engine.connect() as conn:
        return {row.username: dict(row._mapping) for row in conn.execute(select(users))}


def stored_memberships(td: Tokendesk) -> list[tuple[str, str]]:
    with td.engine.connect() as conn:
        return sorted((r.user_id, r.role_id) for r in conn.execute(select(user_roles)))


def alice(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"username": "alice", "password": NEW_PASSWORD,
                            "display_name": "Alice Martin", "roles": ["Auditor"]}
    body.update(overrides)
    return body


def test_an_admin_creates_a_user_whose_password_is_stored_only_as_an_argon2_hash(
    admin: Api, td: Tokendesk
) -> None:
    response = admin.post("/users", json=alice())

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["username"] == "alice"
    assert body["display_name"] == "Alice Martin"
    assert body["roles"] == ["Auditor"]
    assert body["disabled"] is False
    assert "password" not in body and "password_hash" not in body
    assert NEW_PASSWORD not in response.text
    stored = stored_users(td)["alice"]
    assert stored["password_hash"].startswith("$argon2id$")
    assert NEW_PASSWORD not in str(stored)
    assert verify_password(stored["password_hash"], NEW_PASSWORD)


def test_the_user_list_shows_users_and_their_roles_but_no_password(admin: Api) -> None:
    admin.post("/users", json=alice())

    response = admin.get("/users")

    assert response.status_code == 200
    listed = {u["username"]: u for u in response.json()}
    assert listed["admin"]["roles"] == ["Administrator"]
    assert listed["alice"]["roles"] == ["Auditor"]
    assert "argon2" not in response.text and NEW_PASSWORD not in response.text


def test_usernames_are_unique_regardless_of_case(admin: Api, td: Tokendesk) -> None:
    admin.post("/users", json=alice())

    response = admin.post("/users", json=alice(username="ALICE", password="another-long-password"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_name"
    assert response.json()["error"]["field"] == "username"
    assert set(stored_users(td)) == {"admin", "alice"}


BAD_USER_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"password": "short"}, "password"),
    ({"password": "changeme1234"}, "password"),
    ({"password": " " * 16}, "password"),
    ({"password": "aaaaaaaaaaaaaaaa"}, "password"),
    ({"password": "x" * 3000}, "password"),
    ({"roles": ["No such role"]}, "roles"),
    ({"username": "has space"}, "username"),
    ({"username": "   "}, "username"),
    ({"display_name": "bell\u0007"}, "display_name"),
]


def test_bad_user_fields_get_a_clear_error_and_store_nothing(admin: Api, td: Tokendesk) -> None:
    for overrides, field in BAD_USER_FIELDS:
        response = admin.post("/users", json=alice(**overrides))

        assert response.status_code == 422, (overrides, response.text)
        error = response.json()["error"]
        assert error["field"] == field, overrides
        assert error["message"]
        assert str(overrides.get("password", NEW_PASSWORD)) not in response.text
    assert set(stored_users(td)) == {"admin"}


def test_an_admin_edits_the_roles_of_a_user_and_they_apply_on_the_next_request(
    admin: Api, td: Tokendesk
) -> None:
    key = make_user(td, "bob")
    bob = Api(admin.http, key)
    admin.post("/roles", json={"name": "Auditors too", "permissions": ["administration.audit"]})
    assert bob.get("/audit").status_code == 403

    response = admin.patch("/users/BOB", json={"roles": ["Auditors too"]})

    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["Auditors too"]
    assert bob.get("/audit").status_code == 200


def test_an_admin_changes_a_password_without_it_being_shown(admin: Api, td: Tokendesk) -> None:
    make_user(td, "bob")
    before = stored_users(td)["bob"]["password_hash"]

    response = admin.patch("/users/bob", json={"password": NEW_PASSWORD})

    assert response.status_code == 200, response.text
    assert NEW_PASSWORD not in response.text
    after = stored_users(td)["bob"]["password_hash"]
    assert after != before and verify_password(after, NEW_PASSWORD)


def test_a_disabled_users_api_key_stops_working_on_the_very_next_request(
    admin: Api, td: Tokendesk
) -> None:
    bob = Api(admin.http, make_user(td, "bob", permissions=["oauth_connections.view"]))
    assert bob.get("/connections").status_code == 200

    disabled = admin.patch("/users/bob", json={"disabled": True})
    refused = bob.get("/connections")
    admin.patch("/users/bob", json={"disabled": False})
    enabled_again = bob.get("/connections")

    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_credentials"
    assert enabled_again.status_code == 200


def test_nobody_disables_his_own_account(admin: Api, td: Tokendesk) -> None:
    response = admin.patch("/users/admin", json={"disabled": True})

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "disabled"
    assert stored_users(td)["admin"]["disabled"] is False


def test_the_last_administrator_keeps_the_administrator_role(admin: Api, td: Tokendesk) -> None:
    before = stored_memberships(td)

    response = admin.patch("/users/admin", json={"roles": ["Auditor"]})

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "roles"
    assert "administrator" in response.json()["error"]["message"].lower()
    assert stored_memberships(td) == before


def test_an_administrator_may_step_down_when_another_one_remains(admin: Api, td: Tokendesk) -> None:
    make_user(td, "second", roles=["Administrator"])

    response = admin.patch("/users/admin", json={"roles": ["Auditor"]})

    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["Auditor"]


def test_a_disabled_administrator_does_not_count_as_the_remaining_one(
    admin: Api, td: Tokendesk
) -> None:
    make_user(td, "second", roles=["Administrator"])
    admin.patch("/users/second", json={"disabled": True})

    response = admin.patch("/users/admin", json={"roles": []})

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "roles"


def test_without_manage_users_nothing_is_listed_created_or_changed(
    admin: Api, td: Tokendesk
) -> None:
    make_user(td, "victim")
    viewer = Api(admin.http, make_user(td, "viewer", permissions=["oauth_connections.manage"]))
    before_users, before_roles = stored_users(td), stored_memberships(td)

    listed = viewer.get("/users")
    created = viewer.post("/users", json=alice())
    edited = viewer.patch("/users/victim", json={"disabled": True, "roles": ["Administrator"]})
    promoted = viewer.patch("/users/viewer", json={"roles": ["Administrator"]})

    for response in (listed, created, edited, promoted):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "permission_denied"
        assert "Manage users" in response.json()["error"]["message"]
    assert stored_users(td) == before_users
    assert stored_memberships(td) == before_roles


def test_a_user_manager_cannot_grant_more_than_he_holds(admin: Api, td: Tokendesk) -> None:
    manager = Api(admin.http, make_user(td, "manager", permissions=["administration.users"]))
    before_users, before_roles = stored_users(td), stored_memberships(td)

    promoted = manager.patch("/users/manager", json={"roles": ["Administrator"]})
    created = manager.post("/users", json=alice(roles=["Administrator"]))
    reset = manager.patch("/users/admin", json={"password": NEW_PASSWORD})
    disabled = manager.patch("/users/admin", json={"disabled": True})
    admin_key = manager.post("/keys", json={"name": "stolen", "user": "admin"})

    for response in (promoted, created, reset, disabled, admin_key):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "permission_denied"
    assert stored_users(td) == before_users
    assert stored_memberships(td) == before_roles
    with td.engine.connect() as conn:
        assert conn.execute(select(api_keys.c.name)).scalars().all() == ["tests", "tests"]


def test_a_user_manager_manages_users_with_fewer_permissions(admin: Api, td: Tokendesk) -> None:
    manager = Api(admin.http, make_user(td, "manager", permissions=["administration.users"]))
    admin.post("/roles", json={"name": "Nobody special", "permissions": []})

    created = manager.post("/users", json=alice(roles=["Nobody special"]))
    disabled = manager.patch("/users/alice", json={"disabled": True})

    assert created.status_code == 201, created.text
    assert disabled.status_code == 200, disabled.text


def test_editing_an_unknown_user_says_so(admin: Api) -> None:
    response = admin.patch("/users/nobody", json={"disabled": True})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "user_not_found"


def test_a_username_with_control_characters_is_simply_not_found(admin: Api) -> None:
    response = admin.patch("/users/bad%00name", json={"disabled": True})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "user_not_found"


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/users"), ("PATCH", "/users/admin")]
)
def test_malformed_json_is_refused_and_changes_nothing(
    admin: Api, td: Tokendesk, method: str, path: str
) -> None:
    before = stored_users(td)

    response = admin.call(method, path, content='{"password": "' + NEW_PASSWORD,
                          headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert NEW_PASSWORD not in response.text
    assert stored_users(td) == before


WRONG_SHAPES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/users", alice(is_admin=True), "is_admin"),
    ("PATCH", "/users/admin", {"password_hash": "x"}, "password_hash"),
    ("POST", "/users", alice(roles="Auditor"), "roles"),
    ("POST", "/users", alice(password=12345678901234), "password"),
    ("POST", "/users", alice(password=[NEW_PASSWORD]), "password"),
    ("PATCH", "/users/admin", {"disabled": "sometimes"}, "disabled"),
    ("PATCH", "/users/admin", {"password": {"value": NEW_PASSWORD}}, "password"),
]


def test_unknown_fields_and_wrong_types_are_named_and_change_nothing(
    admin: Api, td: Tokendesk
) -> None:
    before = stored_users(td)

    for method, path, body, field in WRONG_SHAPES:
        response = admin.call(method, path, json=body)

        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["field"] == field, body
        assert field in error["message"]
        assert NEW_PASSWORD not in response.text and "12345678901234" not in response.text
    assert stored_users(td) == before


def test_an_empty_body_is_refused_with_a_readable_message(admin: Api, td: Tokendesk) -> None:
    response = admin.post("/users", headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    assert "None" not in response.json()["error"]["message"]
    assert set(stored_users(td)) == {"admin"}


def test_a_user_created_through_the_api_can_sign_in_with_a_key(admin: Api, td: Tokendesk) -> None:
    admin.post("/users", json=alice())

    created = admin.post("/keys", json={"name": "alice laptop", "user": "alice"})
    as_alice = Api(admin.http, created.json()["key"])

    assert as_alice.get("/audit").status_code == 200
    assert as_alice.get("/users").status_code == 403
    assert ADMIN_PASSWORD not in created.text
