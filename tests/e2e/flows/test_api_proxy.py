"""The API proxy end to end: a bot calls an API through Tokendesk, which adds the token; the
API (tests/support/resource_server.py) accepts a token only when the real authorization
server's introspection says it is active."""

from __future__ import annotations

import json
import os
import subprocess
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from support.api import key_for, make_user
from support.authorization_server import AuthorizationServer, client_credentials_client
from support.desk import BOT_ROLE, Desk
from support.event_loop import run as run_coroutine
from support.forward_proxy import ForwardProxy
from support.processes import tokendesk_executable
from support.resource_server import ResourceServer, resource_server
from support.tokendesk_server import Clock, TokendeskServer
from tokendesk.cli.exit_codes import exit_code_for_code
from tokendesk.client import AsyncClient, Client
from tokendesk.storage.tables import audit_events
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S

NAME = "Reports API"
FIFTY_MB = 50_000_000
# What may stay allocated while 50 MB pass through: a few pieces of 64 KiB and their copies.
MEMORY_BOUND_BYTES = 8_000_000


@pytest.fixture
def desk_settings() -> dict[str, Any]:
    return {}


@pytest.fixture
def tokendesk(
    database_url: str, tmp_path: Path, clock: Clock, desk_settings: dict[str, Any]
) -> Iterator[TokendeskServer]:
    server = TokendeskServer(database_url, tmp_path / "data", clock=clock, **desk_settings)
    yield server.start()
    server.stop()


@pytest.fixture
def api(oauth_server: AuthorizationServer) -> Iterator[ResourceServer]:
    client = oauth_server.register_client(client_credentials_client("reports-api"))
    with resource_server(oauth_server, client) as server:
        yield server


@pytest.fixture
def connected(desk: Desk, api: ResourceServer) -> Desk:
    """A connection whose API is ``api``, with a shared token from alice's consent."""
    desk.create_connection(NAME, "code-basic", api_base_url=api.url)
    link = desk.admin.post(f"/connections/{NAME}/test", json={"save_credentials": True})
    desk.consent(link.json()["authorize_url"], user="alice")
    desk.oauth.reset()
    return desk


def proxy(desk: Desk, key: str | None = None) -> httpx.Client:
    """A bot's HTTP client whose base URL is the connection's proxy."""
    given = key or bot_key(desk)
    return httpx.Client(base_url=f"{desk.server.url}/proxy/{NAME}", trust_env=False,
                        timeout=60, headers={"Authorization": f"Bearer {given}"})


def bot_key(desk: Desk) -> str:
    return str(desk.bot.headers["authorization"]).removeprefix("Bearer ")


def revoke(desk: Desk, token: str, client_id: str) -> None:
    auth, fields = desk.oauth.client(client_id).auth()
    answer = httpx.post(desk.oauth.revocation_endpoint, auth=auth, trust_env=False,
                        data={"token": token, "token_type_hint": "access_token", **fields})
    answer.raise_for_status()


def proxy_audit(desk: Desk) -> list[dict[str, Any]]:
    desk.server.td.audit_buffer.flush()
    with desk.server.td.transaction(read_only=True) as tx:
        rows = tx.execute(select(audit_events).where(audit_events.c.action == "proxy.call")
                          .order_by(audit_events.c.id)).all()
    return [dict(row._mapping) for row in rows]


def test_a_proxied_call_carries_the_shared_token(connected: Desk, api: ResourceServer) -> None:
    with proxy(connected) as bot:
        answer = bot.get("/whoami", params={"q": "open orders", "page": "2"})

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"sub": "alice", "client_id": "code-basic",
                             "scope": answer.json()["scope"], "query": "q=open+orders&page=2"}
    assert [a.path for a in api.arrivals] == ["/whoami?q=open+orders&page=2"]


def test_a_proxied_call_with_the_user_header_carries_the_callers_own_token(
    connected: Desk, api: ResourceServer
) -> None:
    link = connected.bot.post(f"/connections/{NAME}/authorize", json={"token_type": "user"})
    connected.oauth.update_settings(auto_approve_user="bob")  # bob signs in at the provider
    connected.consent(link.json()["url"], user="bob", as_user="bot")

    with proxy(connected) as bot:
        mine = bot.get("/whoami", headers={"Tokendesk-Token-Type": "user"})
        shared = bot.get("/whoami")

    assert (mine.json()["sub"], shared.json()["sub"]) == ("bob", "alice")


def test_the_callers_credentials_and_cookies_never_reach_the_api(
    connected: Desk, api: ResourceServer
) -> None:
    key = bot_key(connected)
    with proxy(connected) as bot:
        answer = bot.get("/redirect", headers={
            "Cookie": "tokendesk_session=abc", "Proxy-Authorization": "Basic c2VjcmV0",
            "X-Api-Key": key, "Connection": "keep-alive, X-Hop", "X-Hop": "1",
            "Accept": "application/json"})

    arrived = api.arrivals[0].headers
    assert key not in str(arrived)
    assert arrived["authorization"].startswith("Bearer ") and key not in arrived["authorization"]
    assert not {"cookie", "proxy-authorization", "x-api-key", "x-hop"} & set(arrived)
    assert arrived["accept"] == "application/json"
    # The redirect comes back as it came, not followed, and the API's cookie is not passed on.
    assert (answer.status_code, answer.headers["location"]) == (302, "/whoami")
    assert "set-cookie" not in answer.headers
    assert len(api.arrivals) == 1


def test_a_revoked_access_token_is_refreshed_once_and_the_call_retried(
    desk: Desk, api: ResourceServer, clock: Clock
) -> None:
    # Revoking a code-flow access token at oidc-provider revokes its whole grant (the
    # refresh token too); a client-credentials token dies alone, and its "refresh" is a new
    # client-credentials request (RFC 6749 §4.4).
    desk.create_connection(NAME, "cc-basic", api_base_url=api.url)
    stale = desk.bot.get(f"/connections/{NAME}/token").json()["access_token"]
    revoke(desk, stale, "cc-basic")
    desk.oauth.reset()
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)  # a forced refresh just after issue is not sent

    with proxy(desk) as bot:
        answer = bot.post("/count", content=b"order 42")

    assert answer.status_code == 200, answer.text
    assert answer.json()["received"] == len(b"order 42")
    assert "tokendesk-token-refreshed" not in answer.headers
    assert desk.oauth.token_calls("client_credentials") == 1
    sent = [a.headers["authorization"] for a in api.arrivals]
    assert len(sent) == 2 and sent[0] == f"Bearer {stale}" and sent[1] != sent[0]
    assert proxy_audit(desk)[-1]["details"]["retried_after_refresh"] is True


def test_a_second_401_comes_back_with_the_refreshed_header(
    connected: Desk, api: ResourceServer, clock: Clock
) -> None:
    api.refuse_all = True
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)

    with proxy(connected) as bot:
        answer = bot.get("/whoami")

    assert answer.status_code == 401
    assert answer.headers["tokendesk-token-refreshed"] == "true"
    assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert connected.oauth.token_calls("refresh_token") == 1
    assert len(api.arrivals) == 2


def test_large_bodies_stream_through_without_the_memory_growing_by_their_size(
    connected: Desk, api: ResourceServer
) -> None:
    def upload() -> Iterator[bytes]:
        piece = b"y" * 65536
        for _ in range(FIFTY_MB // len(piece)):
            yield piece
        yield b"y" * (FIFTY_MB % len(piece))

    tracemalloc.start()
    try:
        with proxy(connected) as bot:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            received = 0
            with bot.stream("GET", "/bytes", params={"n": FIFTY_MB}) as down:
                for chunk in down.iter_raw():
                    received += len(chunk)
            up = bot.put("/count", content=upload(),
                         headers={"Content-Length": str(FIFTY_MB)})
            peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert (down.status_code, received) == (200, FIFTY_MB)
    assert up.status_code == 200 and up.json()["received"] == FIFTY_MB
    assert peak - before < MEMORY_BOUND_BYTES, f"grew by {peak - before} bytes"
    audited = proxy_audit(connected)
    assert audited[0]["details"]["bytes_out"] == FIFTY_MB
    assert audited[1]["details"]["bytes_in"] == FIFTY_MB


def test_a_caller_whose_role_is_not_invited_is_refused(
    connected: Desk, api: ResourceServer
) -> None:
    outsider = make_user(connected.server.td, "carol", permissions=["oauth_connections.view"])

    with proxy(connected, outsider) as bot:
        answer = bot.get("/whoami")

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "not_invited"
    assert api.arrivals == []
    assert proxy_audit(connected)[-1]["outcome"] == "denied"


@pytest.mark.parametrize("desk_settings", [{"proxy_rate_limit_per_minute": 2}])
def test_the_rate_limit_answers_429_with_retry_after(
    connected: Desk, api: ResourceServer
) -> None:
    with proxy(connected) as bot:
        answers = [bot.get("/whoami") for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["error"]["code"] == "proxy_rate_limited"
    assert int(answers[2].headers["retry-after"]) >= 1
    assert len(api.arrivals) == 2


def test_every_call_is_audited_without_query_values_bodies_or_tokens(
    connected: Desk, api: ResourceServer
) -> None:
    token = connected.bot.get(f"/connections/{NAME}/token").json()["access_token"]
    with proxy(connected) as bot:
        bot.post("/count?customer=ACME-7", content=b"secret order body")

    [row] = proxy_audit(connected)
    details = row["details"]
    assert (row["actor"], row["target"], row["outcome"]) == ("bot", NAME, "success")
    assert details["method"] == "POST" and details["path"] == "/count?customer="
    assert (details["status"], details["bytes_in"]) == (200, len(b"secret order body"))
    assert details["bytes_out"] > 0 and details["duration_ms"] >= 0
    assert "ACME-7" not in str(row) and "secret order" not in str(row) and token not in str(row)
    metrics = httpx.get(connected.server.url + "/metrics", trust_env=False).text
    assert 'proxy_calls_total{connection="' in metrics and 'status="200"' in metrics


def test_a_connection_without_an_api_base_url_says_so(desk: Desk) -> None:
    desk.create_connection("Plain", "cc-basic")
    answer = httpx.get(f"{desk.server.url}/proxy/Plain/anything", trust_env=False,
                       headers={"Authorization": f"Bearer {bot_key(desk)}"})

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "no_api_base_url"


def test_a_path_climbing_out_of_the_api_base_url_is_refused(
    connected: Desk, api: ResourceServer
) -> None:
    with proxy(connected) as bot:
        answer = bot.get("/a/%2e%2e/%2E%2E/other")

    assert answer.status_code == 422
    assert api.arrivals == []


def test_the_admin_sets_the_api_base_url_only_with_the_client_secret(
    desk: Desk, api: ResourceServer
) -> None:
    desk.create_connection("Later", "cc-basic")
    refused = desk.admin.patch("/connections/Later", json={"api_base_url": api.url})
    secret = desk.oauth.client("cc-basic").client_secret
    accepted = desk.admin.patch("/connections/Later",
                                json={"api_base_url": api.url, "client_secret": secret})

    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "client_secret_required"
    assert accepted.status_code == 200 and accepted.json()["api_base_url"] == api.url
    admin_key = key_for(desk.server.td, "admin")
    assert admin_key  # the API key of an administrator not invited still gets no token
    with httpx.Client(trust_env=False) as http:
        answer = http.get(f"{desk.server.url}/proxy/Later/whoami",
                          headers={"Authorization": f"Bearer {bot_key(desk)}"})
    assert answer.status_code == 200 and answer.json()["client_id"] == "cc-basic"
    assert BOT_ROLE


def test_the_sdk_gives_httpx_clients_whose_base_url_is_the_proxy(
    connected: Desk, api: ResourceServer
) -> None:
    async def whoami_async() -> Any:
        desk_client = AsyncClient(connected.server.url, bot_key(connected))
        async with desk_client, desk_client.proxy(NAME) as http:
            return (await http.get("/whoami", params={"a": "1"})).json()

    with Client(connected.server.url, bot_key(connected)) as desk_client, \
            desk_client.proxy(NAME) as http:
        synced = http.get("whoami").json()
    asynced = run_coroutine(whoami_async())

    assert synced["sub"] == asynced["sub"] == "alice"
    assert asynced["query"] == "a=1"
    assert all(bot_key(connected) not in str(a.headers) for a in api.arrivals)


def test_the_cli_prints_the_apis_answer_and_exits_by_who_refused(
    connected: Desk, api: ResourceServer
) -> None:
    env = {**os.environ, "TOKENDESK_URL": connected.server.url,
           "TOKENDESK_API_KEY": bot_key(connected)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([tokendesk_executable(), "proxy", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    found = run(NAME, "GET", "/whoami?x=1")
    missing = run(NAME, "GET", "/nothing-here")
    unknown = run("Nope", "GET", "/whoami")

    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["query"] == "x=1"
    assert (missing.returncode, json.loads(missing.stdout)) == (22, {"error": "not_found"})
    assert unknown.returncode == exit_code_for_code("connection_not_found")
    assert "There is no connection named 'Nope'" in unknown.stderr


@pytest.mark.parametrize("desk_settings", [{"proxy_max_body_bytes": 100_000}])
def test_bodies_over_the_size_limit_are_refused_each_way(
    connected: Desk, api: ResourceServer
) -> None:
    def chunks() -> Iterator[bytes]:
        yield from (b"z" * 50_000 for _ in range(3))

    with proxy(connected) as bot:
        declared = bot.post("/count", content=b"z" * 150_000)
        streamed = bot.post("/count", content=chunks())  # chunked: no length declared
        answer = bot.get("/bytes", params={"n": 150_000})

    assert (declared.status_code, declared.headers["tokendesk-error"]) == (413, "body_too_large")
    assert streamed.status_code == 413
    assert answer.status_code == 502 and answer.headers["tokendesk-error"] == "provider_error"
    assert "larger than the limit of 100000 bytes" in answer.json()["error"]["message"]
    assert [a.path for a in api.arrivals] == ["/bytes?n=150000"]  # no upload got through


def test_a_changed_api_base_url_takes_effect_on_the_very_next_call(
    connected: Desk, api: ResourceServer
) -> None:
    # The connection's target is remembered between calls; the change moves the cache epoch.
    secret = connected.oauth.client("code-basic").client_secret
    with proxy(connected) as bot:
        before = bot.get("/whoami")
        moved = connected.admin.patch(f"/connections/{NAME}", json={
            "api_base_url": api.url + "/v2", "client_secret": secret})
        after = bot.get("/whoami")

    assert before.status_code == 200 and moved.status_code == 200, moved.text
    assert after.status_code == 404  # the API has no /v2: the call went to the new base URL
    assert [a.path for a in api.arrivals[-2:]] == ["/whoami", "/v2/whoami"]


@pytest.fixture
def own_proxy(tmp_path: Path) -> Iterator[ForwardProxy]:
    proxy = ForwardProxy(tmp_path, username="onprem", password="0n-prem-pr0xy-pa55")
    yield proxy.start()
    proxy.stop()


def test_a_proxied_call_takes_the_connections_own_proxy_as_soon_as_it_is_set(
    connected: Desk, api: ResourceServer, own_proxy: ForwardProxy
) -> None:
    own = {"proxy_mode": "own", "proxy_url": f"http://127.0.0.1:{own_proxy.port}",
           "proxy_username": own_proxy.username}
    with proxy(connected) as bot:
        direct = bot.get("/whoami")
        wrong = connected.admin.patch(f"/connections/{NAME}",
                                      json={**own, "proxy_password": "not-the-password"})
        refused = bot.get("/whoami")
        right = connected.admin.patch(f"/connections/{NAME}",
                                      json={**own, "proxy_password": own_proxy.password})
        through = bot.get("/whoami")

    assert direct.status_code == 200
    assert (wrong.status_code, right.status_code) == (200, 200), wrong.text
    assert refused.status_code == 502 and refused.headers["tokendesk-error"] == "provider_error"
    assert "407" in refused.json()["error"]["message"]
    assert through.status_code == 200 and through.json()["sub"] == "alice"
    vias = [a.headers.get("via") for a in api.arrivals]  # the refused call never reached it
    assert len(vias) == 2 and vias[0] is None and "proxy.py" in (vias[1] or "")
    assert own_proxy.authentication_failures() == 1
