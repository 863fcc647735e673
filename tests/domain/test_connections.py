"""Who a connection invites, and the state of its client."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tokendesk.domain.connections import Connection, ConnectionStatus, GrantType
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal, Via

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def connection(*invited: str, status: ConnectionStatus = ConnectionStatus.OK) -> Connection:
    return Connection(
        id="c1", name="Graph", description="", provider="custom",
        grant_type=GrantType.AUTHORIZATION_CODE, client_id="desk", has_client_secret=True,
        authorization_url="https://idp.example.test/authorize",
        token_url="https://idp.example.test/token", scopes=(), pkce=True,
        client_auth_method=None, revocation_url=None, placeholders={},
        invited_role_ids=frozenset(invited), invited_roles=invited, version=1, status=status,
        last_error=None, created_at=NOW, updated_at=NOW, created_by="admin", updated_by="admin",
    )


def user(*role_ids: str, permissions: frozenset[Permission] = frozenset()) -> Principal:
    return Principal("u1", "bot", Via.API_KEY, permissions, frozenset(role_ids))


def test_a_connection_invites_a_user_holding_one_of_its_invited_roles() -> None:
    assert connection("bots", "analysts").invites(user("sales", "analysts"))


def test_a_connection_does_not_invite_a_user_of_other_roles_whatever_his_permissions() -> None:
    everything = frozenset(Permission)

    assert not connection("bots").invites(user("sales", permissions=everything))
    assert not connection().invites(user("bots"))


def test_the_status_of_a_connection_says_whether_the_provider_refused_its_client() -> None:
    fine = connection()

    assert not fine.misconfigured
    assert replace(fine, status=ConnectionStatus.MISCONFIGURED).misconfigured
    assert ConnectionStatus("misconfigured") is ConnectionStatus.MISCONFIGURED
