"""Authorization code connections: consent, shared and user-specific tokens, refresh,
revocation, and callbacks that must be refused -- against a real authorization server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx

from support.api import make_user
from support.desk import BOT_ROLE, Desk
from support.tokendesk_server import Clock

ONE_HOUR_S = 3600


def save_shared_token(desk: Desk, name: str = "Graph") -> httpx.Response:
    """Test the connection with 'Save login credentials' and consent as the admin."""
    verdict = desk.admin.post(f"/connections/{name}/test", json={"save_credentials": True})
    assert verdict.status_code == 200, verdict.text
    assert verdict.json()["ok"] is None
    return desk.consent(verdict.json()["authorize_url"])


def test_saving_login_credentials_makes_the_consent_the_shared_token(desk: Desk) -> None:
    desk.create_connection("Graph", "code-basic")

    landing = save_shared_token(desk)
    handout = desk.bot.get("/connections/Graph/token", params={"token_type": "shared"})

    assert landing.status_code == 303
    result_url = landing.headers["location"]
    assert "code=" not in result_url and "state=" not in result_url
    assert landing.headers["referrer-policy"] == "no-referrer"
    assert handout.status_code == 200, handout.text
    assert handout.json()["access_token"]
    [exchange] = desk.oauth.requests("token")
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["code_verifier_sent"] is True  # PKCE S256 on by default


def test_the_result_page_shows_the_verdict_without_code_or_state(desk: Desk) -> None:
    desk.create_connection("Graph", "code-post")
    browser = desk.browser()
    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    callback = desk.oauth.complete_consent(browser, link.json()["authorize_url"])

    landing = browser.get(callback)
    page = browser.get(desk.server.url + landing.headers["location"])

    assert page.status_code == 200
    assert "The connection works" in page.text
    assert "shared token is saved" in page.text
    assert parse_qs(urlsplit(callback).query)["code"][0] not in page.text


def test_a_reload_of_the_callback_does_not_exchange_the_code_twice(desk: Desk) -> None:
    desk.create_connection("Graph", "code-basic")
    browser = desk.browser()
    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    callback = desk.oauth.complete_consent(browser, link.json()["authorize_url"])

    first = browser.get(callback)
    again = browser.get(callback)

    assert first.status_code == 303
    assert again.status_code == 400
    assert "already completed" in again.text
    assert desk.oauth.token_calls("authorization_code") == 1


def test_callbacks_with_missing_unknown_or_foreign_state_never_reach_the_token_endpoint(
    desk: Desk,
) -> None:
    desk.create_connection("Graph", "code-basic")
    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    callback = desk.oauth.complete_consent(desk.browser(), link.json()["authorize_url"])
    code = parse_qs(urlsplit(callback).query)["code"][0]
    other_browser = desk.browser()

    missing = other_browser.get(desk.server.callback_url, params={"code": code})
    unknown = other_browser.get(desk.server.callback_url, params={"code": code, "state": "x" * 43})
    foreign = other_browser.get(callback)  # right state, but not the browser that started it

    assert [r.status_code for r in (missing, unknown, foreign)] == [400, 400, 400]
    assert "no state" in missing.text
    assert "unknown" in unknown.text
    assert "another browser" in foreign.text
    assert desk.oauth.token_calls() == 0


def test_an_error_from_the_provider_is_shown_escaped(desk: Desk) -> None:
    graph = desk.create_connection("Graph", "code-basic")
    browser = desk.browser()
    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    callback = desk.oauth.complete_consent(browser, link.json()["authorize_url"], approve=False)
    state = parse_qs(urlsplit(callback).query)["state"][0]

    landing = browser.get(
        graph["callback_url"],
        params={
            "state": state,
            "error": "access_denied",
            "error_description": "<script>alert(1)</script>",
        },
    )
    page = browser.get(desk.server.url + landing.headers["location"])

    assert "access_denied" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert desk.oauth.token_calls() == 0


def test_an_expired_token_is_refreshed_with_the_rotated_refresh_token(
    desk: Desk, clock: Clock
) -> None:
    desk.create_connection("Graph", "code-basic")
    save_shared_token(desk)
    first = desk.bot.get("/connections/Graph/token").json()["access_token"]

    tokens = [first]
    for _ in range(3):  # rotation with reuse detection: any reuse would revoke the grant
        clock.advance(ONE_HOUR_S)
        response = desk.bot.get("/connections/Graph/token")
        assert response.status_code == 200, response.text
        tokens.append(response.json()["access_token"])

    assert len(set(tokens)) == 4
    refreshes = desk.oauth.requests("token")[1:]
    assert [r["grant_type"] for r in refreshes] == ["refresh_token"] * 3
    assert all(r["status"] == 200 for r in refreshes)
    assert len({r["refresh_token_sha256"] for r in refreshes}) == 3


def test_concurrent_handouts_of_an_expired_token_cause_one_refresh(
    desk: Desk, clock: Clock
) -> None:
    desk.create_connection("Graph", "code-basic")
    save_shared_token(desk)
    clock.advance(ONE_HOUR_S)
    desk.oauth.reset()

    def fetch(_: int) -> str:
        response = desk.bot.get("/connections/Graph/token")
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        handed_out = list(pool.map(fetch, range(64)))

    assert desk.oauth.token_calls("refresh_token") == 1
    assert len(set(handed_out)) == 1


def test_a_user_authenticates_his_own_token_and_only_he_can_use_it(desk: Desk) -> None:
    desk.create_connection("Graph", "code-basic")
    link = desk.bot.post("/connections/Graph/authorize", json={"token_type": "user"})
    other = desk.server.api(make_user(desk.server.td, "carol", roles=[BOT_ROLE]))

    before = desk.bot.get("/connections/Graph/token", params={"token_type": "user"})
    desk.consent(link.json()["url"], as_user="bot")
    mine = desk.bot.get("/connections/Graph/token", params={"token_type": "user"})
    hers = other.get("/connections/Graph/token", params={"token_type": "user"})

    assert before.status_code == 409
    assert before.json()["error"]["code"] == "not_authenticated"
    assert before.json()["error"]["authenticate_url"].endswith("/my/connections/Graph")
    assert mine.status_code == 200
    assert hers.status_code == 409 and hers.json()["error"]["code"] == "not_authenticated"


def test_a_refresh_refused_for_good_asks_for_reauthentication(desk: Desk, clock: Clock) -> None:
    desk.create_connection("Graph", "code-basic")
    save_shared_token(desk)
    desk.oauth.inject_fault(error="invalid_grant", grant_type="refresh_token")
    clock.advance(ONE_HOUR_S)

    first = desk.bot.get("/connections/Graph/token")
    second = desk.bot.get("/connections/Graph/token")
    status = desk.admin.get("/connections/Graph/tokens").json()

    assert first.status_code == second.status_code == 409
    assert first.json()["error"]["code"] == "reauthentication_required"
    assert "authenticate again" in first.json()["error"]["message"].lower()
    assert desk.oauth.token_calls("refresh_token") == 1  # no further attempts
    assert status[0]["status"] == "needs_reauthentication"


def test_a_transient_failure_keeps_serving_the_still_valid_token(desk: Desk, clock: Clock) -> None:
    desk.create_connection("Graph", "code-basic")
    save_shared_token(desk)
    current = desk.bot.get("/connections/Graph/token").json()["access_token"]
    desk.oauth.inject_fault(status=503, count=5)
    clock.advance(50)  # inside the refresh margin of a 60-second token, not yet expired

    served = [desk.bot.get("/connections/Graph/token") for _ in range(3)]

    assert all(r.status_code == 200 for r in served)
    assert {r.json()["access_token"] for r in served} == {current}
    assert desk.oauth.token_calls("refresh_token") == 1  # backing off, no retry storm
    status = desk.admin.get("/connections/Graph/tokens").json()[0]
    assert status["status"] == "valid" and "retry" in status["last_error"]


def test_disconnecting_revokes_the_token_at_the_provider(desk: Desk) -> None:
    desk.create_connection("Graph", "code-basic")
    save_shared_token(desk)

    response = desk.admin.delete("/connections/Graph/tokens/shared")

    assert response.status_code == 204
    revoked = desk.oauth.requests("revocation")
    assert [r["token_type_hint"] for r in revoked] == ["refresh_token", "access_token"]
    assert all(r["status"] == 200 for r in revoked)
    assert desk.bot.get("/connections/Graph/token").json()["error"]["code"] == "not_authenticated"


def test_a_failing_revocation_endpoint_never_blocks_the_local_disconnect(desk: Desk) -> None:
    desk.create_connection("Graph", "code-basic")
    save_shared_token(desk)
    desk.oauth.inject_fault(endpoint="revocation", status=503, count=5)

    response = desk.admin.delete("/connections/Graph/tokens/shared")

    assert response.status_code == 204
    assert desk.admin.get("/connections/Graph/tokens").json() == []


def test_deleting_a_connection_revokes_its_tokens_at_the_provider(desk: Desk) -> None:
    desk.create_connection("Graph", "code-basic")
    save_shared_token(desk)
    desk.consent(
        desk.bot.post("/connections/Graph/authorize", json={"token_type": "user"}).json()["url"],
        as_user="bot",
    )

    response = desk.admin.delete("/connections/Graph")

    assert response.status_code == 204
    revoked = desk.oauth.requests("revocation")
    assert len(revoked) == 4  # refresh and access token of the shared and the user token
    assert all(r["status"] == 200 for r in revoked)


def test_a_revocation_the_provider_failed_is_retried_later(desk: Desk, clock: Clock) -> None:
    desk.create_connection("Graph", "code-basic")
    save_shared_token(desk)
    desk.oauth.inject_fault(endpoint="revocation", status=503, count=2)
    td = desk.server.td

    desk.admin.delete("/connections/Graph/tokens/shared").raise_for_status()
    clock.advance(60)
    retried = td.revocations.drain()

    statuses = [r["status"] for r in desk.oauth.requests("revocation")]
    assert statuses[:2] == [503, 503]
    assert retried == 2 and statuses[2:] == [200, 200]
    assert td.revocations.drain() == 0  # nothing left in the queue


def test_moving_a_connection_to_another_token_url_retires_its_tokens(desk: Desk) -> None:
    desk.create_connection("Graph", "code-basic")
    save_shared_token(desk)
    other_url = desk.oauth.token_endpoint.replace("/token", "/token2")

    edited = desk.admin.patch("/connections/Graph", json={"token_url": other_url})
    handout = desk.bot.get("/connections/Graph/token")
    audit = desk.admin.get("/audit", params={"action": "connection.tokens_retired"}).json()

    assert edited.status_code == 200, edited.text
    assert handout.status_code == 409
    assert handout.json()["error"]["code"] == "reauthentication_required"
    assert "token_url changed" in handout.json()["error"]["message"]
    assert desk.oauth.token_calls("refresh_token") == 0  # the old refresh token went nowhere
    assert audit and audit[0]["details"]["changed"] == ["token_url"]


def test_changing_only_the_client_secret_keeps_tokens_working(desk: Desk, clock: Clock) -> None:
    desk.create_connection("Graph", "code-basic")
    save_shared_token(desk)
    secret = desk.oauth.clients["code-basic"].client_secret

    desk.admin.patch("/connections/Graph", json={"client_secret": secret}).raise_for_status()
    clock.advance(ONE_HOUR_S)
    handout = desk.bot.get("/connections/Graph/token")

    assert handout.status_code == 200, handout.text
    assert desk.oauth.token_calls("refresh_token") == 1


def test_an_answer_naming_another_issuer_is_refused_before_the_code_is_used(desk: Desk) -> None:
    graph = desk.create_connection("Graph", "code-basic")
    browser = desk.browser()
    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    callback = desk.oauth.complete_consent(browser, link.json()["authorize_url"])
    query = parse_qs(urlsplit(callback).query)
    assert query["iss"] == [desk.oauth.issuer]  # RFC 9207: the server says who it is

    landing = browser.get(graph["callback_url"], params={
        "code": query["code"][0], "state": query["state"][0],
        "iss": "https://attacker.example.com"})
    page = browser.get(desk.server.url + landing.headers["location"])

    assert "another authorization server" in page.text
    assert desk.oauth.token_calls() == 0


def test_a_sign_in_that_took_longer_than_ten_minutes_is_refused(desk: Desk, clock: Clock) -> None:
    desk.create_connection("Graph", "code-basic")
    browser = desk.browser()
    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    callback = desk.oauth.complete_consent(browser, link.json()["authorize_url"])
    clock.advance(11 * 60)

    landing = browser.get(callback)

    assert landing.status_code == 400
    assert "longer than ten minutes" in landing.text
    assert desk.oauth.token_calls() == 0


def test_an_answer_without_iss_from_a_server_that_announces_it_is_refused(desk: Desk) -> None:
    graph = desk.create_connection("Graph", "code-basic")
    browser = desk.browser()
    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    callback = desk.oauth.complete_consent(browser, link.json()["authorize_url"])
    query = parse_qs(urlsplit(callback).query)
    assert desk.oauth.metadata["authorization_response_iss_parameter_supported"] is True

    landing = browser.get(graph["callback_url"], params={
        "code": query["code"][0], "state": query["state"][0]})  # iss stripped on the way
    page = browser.get(desk.server.url + landing.headers["location"])

    assert "names itself in its answers" in page.text
    assert desk.oauth.token_calls() == 0
