"""A caller who may view a connection but whose roles are not invited is told so (403
``not_invited``, naming the invited roles); one who may not even view it is told it does not
exist (404), on both token routes: the hot path's GET and FastAPI's refresh."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from support.api import Api, connection_body, make_user
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet
from tokendesk.wiring import Tokendesk

NAME = "Salesforce prod"
TOKEN = f"/connections/{NAME}/token"


def ask_both_routes(api: Api) -> list[httpx.Response]:
    """The hot path's handout (GET) and FastAPI's forced refresh (POST)."""
    return [api.get(TOKEN), api.post(TOKEN + "/refresh")]


def create_connection(admin: Api, invited_roles: list[str]) -> None:
    response = admin.post("/connections", json=connection_body(invited_roles=invited_roles))
    assert response.status_code == 201, response.text


def store_shared_token(td: Tokendesk) -> None:
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), NAME)
        td.tokens.store(tx, connection, TokenKind.SHARED, None, TokenSet(
            Secret("at-shared"), "Bearer", td.clock() + timedelta(hours=1), Secret("rt-shared")))


def assert_not_invited(response: httpx.Response, invited: list[str]) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "not_invited"
    assert error["invited_roles"] == invited
    assert NAME in error["message"]
    for role in invited:
        assert role in error["message"]


def test_the_administrator_is_told_his_role_is_not_invited_to_a_connection_he_created(
    td: Tokendesk, admin: Api
) -> None:
    make_user(td, "bot", permissions=["oauth_connections.view"])
    create_connection(admin, ["bot-role"])

    for response in ask_both_routes(admin):
        assert_not_invited(response, ["bot-role"])


def test_a_connection_that_invites_no_role_says_so(admin: Api) -> None:
    create_connection(admin, [])

    for response in ask_both_routes(admin):
        assert_not_invited(response, [])
        assert "no role" in response.json()["error"]["message"]


def test_a_caller_who_may_not_view_connections_is_still_told_it_does_not_exist(
    td: Tokendesk, admin: Api
) -> None:
    make_user(td, "bot", permissions=["oauth_connections.view"])
    stranger = Api(admin.http, make_user(td, "stranger"))
    create_connection(admin, ["bot-role"])

    for response in ask_both_routes(stranger):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "connection_not_found"
        assert "invited_roles" not in response.json()["error"]
        assert "bot-role" not in response.text


def test_a_handout_cached_before_the_role_was_uninvited_gives_way_to_not_invited(
    td: Tokendesk, admin: Api
) -> None:
    make_user(td, "other", permissions=["oauth_connections.view"])
    ops = Api(admin.http, make_user(td, "ops", permissions=["oauth_connections.view"]))
    create_connection(admin, ["ops-role"])
    store_shared_token(td)
    for _ in range(2):  # the second one is answered from the hot path's memory
        assert ops.get(TOKEN).json()["access_token"] == "at-shared"

    admin.patch(f"/connections/{NAME}", json={"invited_roles": ["other-role"]}).raise_for_status()

    for response in ask_both_routes(ops):
        assert_not_invited(response, ["other-role"])
        assert "at-shared" not in response.text


@pytest.mark.parametrize("route", ["GET", "POST"])
def test_a_refusal_for_not_being_invited_is_audited_as_denied(
    td: Tokendesk, admin: Api, route: str
) -> None:
    create_connection(admin, [])

    admin.call(route, TOKEN if route == "GET" else TOKEN + "/refresh")
    td.audit_buffer.flush()
    events = admin.get("/audit", params={"action": "token.handout"}).json()

    assert [(e["outcome"], e["details"]["error"]) for e in events] == [("denied", "not_invited")]
