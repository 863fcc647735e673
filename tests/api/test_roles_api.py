"""Roles and permissions through the REST API: system roles stay, custom roles are invited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from support.api import Api, connection_body, make_user
from tokendesk.storage.tables import role_permissions, roles
from tokendesk.wiring import Tokendesk


def stored_roles(td: Tokendesk) -> dict[str, tuple[Any, ...]]:
    """Role name -> (description, system, sorted permissions), straight from the tables."""
    with td.engine.connect() as conn:
        granted: dict[str, list[str]] = {}
        for row in conn.execute(select(role_permissions)):
            granted.setdefault(row.role_id, []).append(row.permission)
        return {
            row.name: (row.description, row.system, sorted(granted.get(row.id, [])))
            for row in conn.execute(select(roles))
        }


def test_the_system_roles_exist_on_every_installation(admin: Api) -> None:
    response = admin.get("/roles")

    assert response.status_code == 200
    found = {r["name"]: r for r in response.json()}
    assert found["Administrator"]["system"] is True
    assert "administration.users" in found["Administrator"]["permissions"]
    assert "oauth_connections.manage" in found["Administrator"]["permissions"]
    assert found["Auditor"]["system"] is True
    assert found["Auditor"]["permissions"] == ["administration.audit", "oauth_connections.view"]


@pytest.mark.parametrize("name", ["Administrator", "auditor"])
def test_system_roles_cannot_be_edited_or_deleted(admin: Api, td: Tokendesk, name: str) -> None:
    before = stored_roles(td)

    renamed = admin.patch(f"/roles/{name}", json={"name": "Mine now"})
    widened = admin.patch(f"/roles/{name}", json={"permissions": []})
    deleted = admin.delete(f"/roles/{name}")

    for response in (renamed, widened, deleted):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "permission_denied"
        assert "system role" in response.json()["error"]["message"]
    assert stored_roles(td) == before


def test_an_admin_creates_a_custom_role_with_connection_permissions(
    admin: Api, td: Tokendesk
) -> None:
    response = admin.post("/roles", json={
        "name": "Sales bots", "description": "Bots of the sales team",
        "permissions": ["oauth_connections.view"]})

    assert response.status_code == 201, response.text
    assert response.json() == {"name": "Sales bots", "description": "Bots of the sales team",
                               "system": False, "permissions": ["oauth_connections.view"]}
    assert stored_roles(td)["Sales bots"] == ("Bots of the sales team", False,
                                              ["oauth_connections.view"])


def test_manage_connections_implies_view_connections(admin: Api, td: Tokendesk) -> None:
    admin.post("/connections", json=connection_body())
    manager = Api(admin.http, make_user(td, "manager", permissions=["oauth_connections.manage"]))

    listed = manager.get("/connections")
    shown = manager.get("/connections/Salesforce prod")

    assert listed.status_code == 200
    assert [c["name"] for c in listed.json()] == ["Salesforce prod"]
    assert shown.status_code == 200


def test_view_connections_alone_does_not_allow_changes(admin: Api, td: Tokendesk) -> None:
    admin.post("/connections", json=connection_body())
    viewer = Api(admin.http, make_user(td, "viewer", permissions=["oauth_connections.view"]))

    assert viewer.get("/connections/Salesforce prod").status_code == 200
    assert viewer.delete("/connections/Salesforce prod").status_code == 403


def test_only_custom_roles_are_offered_for_invitation(admin: Api) -> None:
    admin.post("/roles", json={"name": "Sales bots", "permissions": []})
    admin.post("/roles", json={"name": "HR bots", "permissions": []})

    everything = admin.get("/roles").json()
    offered = admin.get("/roles", params={"custom_only": "true"}).json()

    assert {"Administrator", "Auditor", "Sales bots", "HR bots"} <= {r["name"] for r in everything}
    assert sorted(r["name"] for r in offered) == ["HR bots", "Sales bots"]
    assert all(r["system"] is False for r in offered)


def test_a_connection_manager_may_read_the_roles_to_invite(admin: Api, td: Tokendesk) -> None:
    admin.post("/roles", json={"name": "Sales bots", "permissions": []})
    manager = Api(admin.http, make_user(td, "manager", permissions=["oauth_connections.manage"]))

    response = manager.get("/roles", params={"custom_only": True})

    assert response.status_code == 200
    assert "Sales bots" in [r["name"] for r in response.json()]


def test_role_names_are_unique_regardless_of_case(admin: Api, td: Tokendesk) -> None:
    admin.post("/roles", json={"name": "Sales bots", "permissions": []})
    before = stored_roles(td)

    created = admin.post("/roles", json={"name": "SALES BOTS", "permissions": []})
    admin.post("/roles", json={"name": "HR bots"})
    renamed = admin.patch("/roles/HR bots", json={"name": "sales Bots"})

    assert created.status_code == renamed.status_code == 409
    assert created.json()["error"]["code"] == "duplicate_name"
    assert created.json()["error"]["field"] == "name"
    assert set(stored_roles(td)) == set(before) | {"HR bots"}


def test_a_system_role_name_cannot_be_taken_by_a_custom_role(admin: Api) -> None:
    response = admin.post("/roles", json={"name": "administrator", "permissions": []})

    assert response.status_code == 409


def test_an_unknown_permission_is_refused_and_stores_nothing(admin: Api, td: Tokendesk) -> None:
    before = stored_roles(td)

    response = admin.post("/roles", json={"name": "Root", "permissions": ["everything"]})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"].startswith("permissions")
    assert "oauth_connections.manage" in error["message"]
    assert stored_roles(td) == before


def test_an_admin_renames_and_changes_the_permissions_of_a_custom_role(
    admin: Api, td: Tokendesk
) -> None:
    admin.post("/roles", json={"name": "Sales bots", "permissions": ["oauth_connections.view"]})

    response = admin.patch("/roles/sales bots", json={
        "name": "Sales robots", "permissions": ["oauth_connections.manage"]})

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Sales robots"
    assert response.json()["permissions"] == ["oauth_connections.manage"]
    assert "Sales bots" not in stored_roles(td)


def test_deleting_a_custom_role_takes_its_permissions_from_its_members(
    admin: Api, td: Tokendesk
) -> None:
    member = Api(admin.http, make_user(td, "member", permissions=["administration.audit"]))
    assert member.get("/audit").status_code == 200

    response = admin.delete("/roles/member-role")

    assert response.status_code == 204
    assert "member-role" not in stored_roles(td)
    assert member.get("/audit").status_code == 403


def test_changing_an_unknown_role_says_so(admin: Api) -> None:
    edited = admin.patch("/roles/Nope", json={"description": "x"})
    deleted = admin.delete("/roles/Nope")
    control = admin.delete("/roles/No%00pe")

    assert edited.status_code == deleted.status_code == control.status_code == 404
    assert deleted.json()["error"]["code"] == "role_not_found"


def test_without_manage_roles_roles_cannot_be_changed(admin: Api, td: Tokendesk) -> None:
    admin.post("/roles", json={"name": "Sales bots", "permissions": []})
    caller = Api(admin.http, make_user(td, "caller", permissions=["administration.users"]))
    before = stored_roles(td)

    created = caller.post("/roles", json={"name": "Mine", "permissions": []})
    edited = caller.patch("/roles/Sales bots", json={"permissions": ["administration.users"]})
    deleted = caller.delete("/roles/Sales bots")

    for response in (created, edited, deleted):
        assert response.status_code == 403
        assert "Manage roles" in response.json()["error"]["message"]
    assert stored_roles(td) == before


def test_without_any_administration_permission_roles_are_not_listed(
    admin: Api, td: Tokendesk
) -> None:
    nobody = Api(admin.http, make_user(td, "nobody"))

    assert nobody.get("/roles").status_code == 403


def test_a_role_manager_cannot_grant_permissions_he_does_not_hold(
    admin: Api, td: Tokendesk
) -> None:
    manager = Api(admin.http, make_user(td, "manager", permissions=["administration.roles"]))
    before = stored_roles(td)

    created = manager.post("/roles", json={"name": "Escalate",
                                           "permissions": ["administration.users"]})
    widened = manager.patch("/roles/manager-role",
                            json={"permissions": ["administration.roles", "administration.users"]})
    fine = manager.post("/roles", json={"name": "Harmless",
                                        "permissions": ["administration.roles"]})

    assert created.status_code == widened.status_code == 403
    assert "Manage users" in created.json()["error"]["message"]
    assert fine.status_code == 201
    assert stored_roles(td) == {**before, "Harmless": ("", False, ["administration.roles"])}


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/roles"), ("PATCH", "/roles/Sales bots")]
)
def test_malformed_json_is_refused_and_changes_nothing(
    admin: Api, td: Tokendesk, method: str, path: str
) -> None:
    admin.post("/roles", json={"name": "Sales bots", "permissions": []})
    before = stored_roles(td)

    response = admin.call(method, path, content="{'name': 'x'}",
                          headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert stored_roles(td) == before


WRONG_SHAPES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/roles", {"name": "X", "system": True}, "system"),
    ("PATCH", "/roles/Sales bots", {"members": ["admin"]}, "members"),
    ("POST", "/roles", {"name": "X", "permissions": "oauth_connections.view"}, "permissions"),
    ("POST", "/roles", {"name": ["X"]}, "name"),
    ("PATCH", "/roles/Sales bots", {"description": 5}, "description"),
    ("POST", "/roles", {"permissions": []}, "name"),
    ("POST", "/roles", {"name": "Bad/name"}, "name"),
    ("PATCH", "/roles/Sales bots", {"name": ""}, "name"),
]


def test_unknown_fields_and_wrong_types_are_named_and_change_nothing(
    admin: Api, td: Tokendesk
) -> None:
    admin.post("/roles", json={"name": "Sales bots", "permissions": []})
    before = stored_roles(td)

    for method, path, body, field in WRONG_SHAPES:
        response = admin.call(method, path, json=body)

        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["field"] == field, body
    assert stored_roles(td) == before
