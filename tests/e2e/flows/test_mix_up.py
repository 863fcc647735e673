"""Mix-up attacks (RFC 9700 §4.4) are refused before a code reaches another server: metadata
is believed only for the origin it names (RFC 8414 §3.3), and each connection has its own
callback URL, so an answer tells which connection it is for even without ``iss``."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from support.desk import Desk
from support.hostile_authorization_server import HostileAuthorizationServer, MixUp
from tokendesk.storage.tables import connections


def use_the_shared_callback(desk: Desk, name: str) -> None:
    """Make ``name`` a connection created before callback URLs were per connection."""
    with desk.server.td.transaction() as tx:
        tx.execute(update(connections).where(connections.c.name == name)
                   .values(shared_callback=True))


@pytest.fixture
def hostile(desk: Desk) -> Iterator[HostileAuthorizationServer]:
    """A server that claims the honest server's issuer and sends the browser there with the
    honest client 'code-basic' and the shared callback URL both connections registered."""
    mix_up = MixUp(desk.oauth.issuer, desk.oauth.authorization_endpoint, "code-basic",
                   desk.server.callback_url)
    with HostileAuthorizationServer(mix_up) as server:
        yield server


def test_a_server_claiming_another_servers_issuer_never_receives_its_code(
    desk: Desk, hostile: HostileAuthorizationServer
) -> None:
    desk.create_connection("Graph", "code-basic")
    desk.create_connection("Evil", "code-post",
                           authorization_url=hostile.url + "/authorize?prompt=consent",
                           token_url=hostile.url + "/token", revocation_url=None)
    for name in ("Graph", "Evil"):
        use_the_shared_callback(desk, name)
    browser = desk.browser()
    start = desk.admin.post("/connections/Evil/test", json={"save_credentials": True})

    # The hostile server sends the browser to the honest one, which answers with its iss.
    callback = desk.oauth.complete_consent(browser, start.json()["authorize_url"])
    assert parse_qs(urlsplit(callback).query)["iss"] == [desk.oauth.issuer]
    landing = browser.get(callback)
    page = browser.get(desk.server.url + landing.headers["location"])

    assert hostile.metadata_requests >= 1  # it was asked, and not believed
    assert hostile.token_requests == []
    assert "another authorization server" in page.text


def test_an_answer_at_one_connections_callback_with_anothers_state_is_refused(
    desk: Desk,
) -> None:
    graph = desk.create_connection("Graph", "code-basic")
    desk.create_connection("Mail", "code-post")
    browser = desk.browser()
    start = desk.admin.post("/connections/Mail/test", json={"save_credentials": True})
    callback = desk.oauth.complete_consent(browser, start.json()["authorize_url"])
    answer = urlsplit(callback).query

    at_graph = browser.get(f"{graph['callback_url']}?{answer}")
    at_shared = browser.get(f"{desk.server.callback_url}?{answer}")

    assert [at_graph.status_code, at_shared.status_code] == [400, 400]
    assert "callback URL of another connection" in at_graph.text
    assert "callback URL of another connection" in at_shared.text
    assert desk.oauth.token_calls() == 0


def test_each_connection_has_its_own_callback_url_and_it_completes_a_consent(
    desk: Desk,
) -> None:
    graph = desk.create_connection("Graph", "code-basic")
    mail = desk.create_connection("Mail", "code-post")
    browser = desk.browser()
    start = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})

    callback = desk.oauth.complete_consent(browser, start.json()["authorize_url"])
    landing = browser.get(callback)

    assert graph["callback_url"] != mail["callback_url"]
    assert graph["callback_url"].startswith(desk.server.callback_url + "/")
    assert callback.startswith(graph["callback_url"] + "?")
    assert landing.status_code == 303
    assert desk.bot.get("/connections/Graph/token", params={"token_type": "shared"}
                        ).status_code == 200


def test_a_connection_registered_with_the_shared_callback_url_keeps_working(
    desk: Desk,
) -> None:
    desk.create_connection("Graph", "code-basic")
    use_the_shared_callback(desk, "Graph")
    browser = desk.browser()
    shown = desk.admin.get("/connections/Graph").json()["callback_url"]
    start = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})

    callback = desk.oauth.complete_consent(browser, start.json()["authorize_url"])
    landing = browser.get(callback)

    assert shown == desk.server.callback_url
    assert callback.startswith(desk.server.callback_url + "?")
    assert landing.status_code == 303
    assert desk.bot.get("/connections/Graph/token", params={"token_type": "shared"}
                        ).status_code == 200
