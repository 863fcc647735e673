"""The bots' handout is answered ahead of FastAPI's middleware: its answers still carry the
security headers, the error shape and the request metric of every other API answer, and
anything that is not a well-formed bot handout still gets FastAPI's answer."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from support.desk import Desk
from support.tokendesk_server import Clock
from tokendesk.client.wire import TokenWire
from tokendesk.services.auth import LAST_USED_RESOLUTION_S

TOKEN = "/connections/Reports API/token"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


@pytest.fixture
def connected(desk: Desk) -> Desk:
    desk.create_connection("Reports API", "cc-basic")
    return desk


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, dict(response.headers))


def test_a_handout_from_memory_carries_the_security_headers(connected: Desk) -> None:
    first = connected.bot.get(TOKEN)
    again = connected.bot.get(TOKEN)  # answered from the cache

    for response in (first, again):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.headers["pragma"] == "no-cache"
        assert int(response.headers["content-length"]) == len(response.content)
        assert_security_headers(response)
    assert again.json() == first.json()
    assert set(first.json()) == {"access_token", "token_type", "expires_at", "scope",
                                 "connection", "kind", "provider_fields"}


def test_every_answer_is_the_wire_format_the_sdk_reads_byte_for_byte(connected: Desk) -> None:
    first = connected.bot.get(TOKEN)  # the full way
    again = connected.bot.get(TOKEN)  # from memory
    forced = connected.bot.post(TOKEN + "/refresh")  # FastAPI's route

    for response in (first, again, forced):
        assert response.status_code == 200, response.text
        assert TokenWire.from_json(response.json()).to_json() == response.content


def test_a_refused_handout_has_the_error_shape_and_the_security_headers(
    connected: Desk,
) -> None:
    response = connected.bot.get("/connections/No such connection/token")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "connection_not_found"
    assert "No such connection" in response.json()["error"]["message"]
    assert_security_headers(response)


def test_a_wrong_api_key_is_401_with_a_bearer_challenge(connected: Desk) -> None:
    stranger = httpx.Client(base_url=str(connected.bot.base_url),
                            headers={"Authorization": "Bearer td_nope_nope"})
    with stranger:
        response = stranger.get(TOKEN)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["message"]
    assert "td_nope_nope" not in response.text
    assert_security_headers(response)


@pytest.mark.parametrize(
    ("headers", "query", "status", "code"),
    [
        ({"Authorization": "Basic Ym90OnNlY3JldA=="}, "", 401, "authentication_required"),
        ({"Authorization": "Bearer"}, "", 401, "authentication_required"),
        ({}, "", 401, "authentication_required"),
        (None, "?token_type=everything", 422, "validation_error"),
    ],
)
def test_what_is_not_a_well_formed_bot_handout_gets_the_api_s_usual_answer(
    connected: Desk, headers: dict[str, str] | None, query: str, status: int, code: str
) -> None:
    client = connected.bot if headers is None else httpx.Client(
        base_url=str(connected.bot.base_url), headers=headers)
    response = client.get(TOKEN + query)

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert_security_headers(response)


def test_a_user_token_is_asked_with_the_token_type_query(connected: Desk) -> None:
    response = connected.bot.get(TOKEN, params={"token_type": "user"})

    # The connection holds only a shared token: the bot's own user-specific one is not there.
    assert response.status_code in (404, 409), response.text
    assert response.json()["error"]["message"]


def test_handouts_are_counted_by_route_template(connected: Desk) -> None:
    for _ in range(3):
        connected.bot.get(TOKEN).raise_for_status()
    connected.bot.get("/connections/No such connection/token")

    metrics = httpx.get(connected.server.url + "/metrics").text

    route = 'route="/api/v1/connections/{name}/token"'
    [ok] = [line for line in metrics.splitlines() if line.startswith("http_requests_total{")
            and route in line and 'status="200"' in line]
    [missing] = [line for line in metrics.splitlines() if line.startswith("http_requests_total{")
                 and route in line and 'status="404"' in line]
    assert ok.endswith(" 3.0") and missing.endswith(" 1.0")
    # Requests are counted by route template, never by the path a caller typed (connections
    # are named only by the gauges of issue 13, which list the connections that exist).
    requests = [line for line in metrics.splitlines() if line.startswith("http_requests")]
    assert not [line for line in requests if "Reports API" in line or "No such" in line]
    assert "No such connection" not in metrics


def test_every_handout_from_memory_is_audited_as_its_caller(connected: Desk) -> None:
    for _ in range(3):
        connected.bot.get(TOKEN).raise_for_status()  # the first fills the cache
    connected.server.td.audit_buffer.flush()

    events = connected.admin.get("/audit", params={"action": "token.handout"}).json()

    handed = [e for e in events if e["actor"] == "bot" and e["outcome"] == "success"]
    assert len(handed) == 3
    assert {e["target"] for e in handed} == {"Reports API"}
    assert all(e["details"] == {"kind": "shared"} for e in handed)
    assert len({e["id"] for e in handed}) == 3


def test_a_key_answered_from_memory_still_shows_when_it_was_last_used(
    desk: Desk, clock: Clock
) -> None:
    desk.oauth.update_settings(access_token_ttl_s=3600)  # not due for refresh an hour long
    desk.create_connection("Reports API", "cc-basic")

    def bot_key_last_used() -> datetime:
        desk.server.td.audit_buffer.flush()
        [key] = [k for k in desk.admin.get("/keys").json() if k["user"] == "bot"]
        return datetime.fromisoformat(key["last_used_at"])

    desk.bot.get(TOKEN).raise_for_status()  # the full way: fetches the token (the epoch moves)
    desk.bot.get(TOKEN).raise_for_status()  # the full way again: fills the cache
    first = bot_key_last_used()
    desk.bot.get(TOKEN).raise_for_status()  # from memory, within the minute: nothing to write
    assert bot_key_last_used() == first

    clock.advance(LAST_USED_RESOLUTION_S + 1)
    calls = desk.oauth.token_calls()
    desk.bot.get(TOKEN).raise_for_status()  # from memory still: nothing changed
    later = bot_key_last_used()

    assert desk.oauth.token_calls() == calls
    assert later - first >= timedelta(seconds=LAST_USED_RESOLUTION_S)
