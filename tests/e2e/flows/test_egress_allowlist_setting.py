"""The egress allowlist edited by an administrator while Tokendesk runs: a connection whose
token URL is on a private address (the real authorization server on 127.0.0.1) is refused,
naming the setting, until an administrator allowlists the address through the API; then it
works -- without a restart, and on another ``tokendesk serve`` replica too, whose environment
allowlists nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.desk import Desk
from support.processes import ServeProcess, replica_env
from support.tokendesk_server import Clock, TokendeskServer

SETTING = "TOKENDESK_EGRESS_ALLOWLIST"


@pytest.fixture
def tokendesk(database_url: str, tmp_path: Path, clock: Clock) -> Iterator[TokendeskServer]:
    """Tokendesk with nothing allowlisted in its environment."""
    server = TokendeskServer(database_url, tmp_path / "data", clock=clock,
                             egress_allowlist="").start()
    yield server
    server.stop()


@pytest.fixture
def replica(desk: Desk, tmp_path: Path) -> Iterator[httpx.Client]:
    """Another ``tokendesk serve`` on the same database, nothing allowlisted in its environment;
    an API client on it, signed in as the administrator."""
    env = replica_env(desk.server.settings, tmp_path / "replica-data",
                      **{SETTING: "", "TOKENDESK_LOG_LEVEL": "WARNING"})
    serve = ServeProcess(env, tmp_path / "replica.log").start()
    client = httpx.Client(base_url=serve.url + "/api/v1", timeout=60, trust_env=False,
                          headers={"Authorization": str(desk.admin.headers["authorization"])})
    yield client
    client.close()
    serve.stop()


def allowlist(desk: Desk, *entries: str) -> None:
    response = desk.admin.put("/settings/egress", json={"allowlist": list(entries)})
    assert response.status_code == 200, response.text


def reports_api(desk: Desk) -> dict[str, Any]:
    client = desk.oauth.clients["cc-basic"]
    return {"name": "Reports API", "provider": "custom", "grant_type": "client_credentials",
            "client_id": client.client_id, "client_secret": client.client_secret,
            "token_url": desk.oauth.token_endpoint, "scopes": "api:read",
            "client_auth_method": client.token_endpoint_auth_method,
            "invited_roles": ["Sales bots"]}


def test_a_private_token_url_is_refused_until_allowlisted_then_works_without_a_restart(
    desk: Desk,
) -> None:
    assert desk.oauth.token_endpoint.startswith("http://127.0.0.1:")
    refused = desk.admin.post("/connections", json=reports_api(desk))

    allowlist(desk, "127.0.0.1")
    created = desk.admin.post("/connections", json=reports_api(desk))
    token = desk.bot.get("/connections/Reports API/token")

    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "token_url"
    assert SETTING in refused.json()["error"]["message"]
    assert "Network settings" in refused.json()["error"]["message"]
    assert created.status_code == 201, created.text
    assert token.status_code == 200, token.text
    assert desk.oauth.token_calls() == 1


def test_every_call_and_every_replica_follows_the_allowlist_at_once(
    desk: Desk, replica: httpx.Client,
) -> None:
    allowlist(desk, "127.0.0.1")
    desk.create_connection("Reports API", "cc-basic")
    allowlist(desk)  # removed again: the next call is refused where the connection is made

    here = desk.admin.post("/connections/Reports API/test").json()
    there = replica.post("/connections/Reports API/test").json()
    calls_while_refused = desk.oauth.token_calls()
    allowlist(desk, "127.0.0.1/32")
    there_after = replica.post("/connections/Reports API/test").json()
    here_after = desk.admin.post("/connections/Reports API/test").json()
    allowlist(desk)  # a kept-alive connection opened under the old allowlist is not reused
    here_last = desk.admin.post("/connections/Reports API/test").json()

    for verdict in (here, there, here_last):
        assert verdict["ok"] is False and verdict["cause"] == "egress_denied", verdict
        assert SETTING in verdict["message"] and "127.0.0.1" in verdict["message"]
    assert calls_while_refused == 0
    assert there_after["ok"] is True, there_after
    assert here_after["ok"] is True, here_after
    assert desk.oauth.token_calls() == 2
