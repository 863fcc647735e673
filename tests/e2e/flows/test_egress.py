"""The egress policy: Tokendesk calls only public addresses unless an administrator allowlists
others, checked on the address actually connected to (RFC 9700 §4.x, SSRF)."""

from __future__ import annotations

import httpx
import pytest

from support.desk import Desk
from tokendesk.domain.egress import EgressPolicy
from tokendesk.errors import EgressDenied
from tokendesk.oauth.client import ClientSpec, OAuthClient
from tokendesk.oauth.outbound import Outbound


def save_with_token_host(desk: Desk, host: str) -> httpx.Response:
    return desk.admin.post("/connections", json={
        "name": "Metadata", "provider": "custom", "grant_type": "client_credentials",
        "client_id": "x", "client_secret": "y", "token_url": f"https://{host}/token"})


@pytest.mark.parametrize("host", ["169.254.169.254", "[fd00:ec2::254]",
                                  "[::ffff:169.254.169.254]"])
def test_a_cloud_metadata_address_is_refused_without_advising_the_allowlist_that_refuses_it(
    desk: Desk, host: str
) -> None:
    response = save_with_token_host(desk, host)

    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "egress allowlist cannot allow them" in message
    assert "server's own credentials" in message
    assert "adds it" not in message and "TOKENDESK_EGRESS_ALLOWLIST" not in message


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.8",
        "192.168.1.1",
        "127.0.0.2",
        "100.64.0.1",
        "0.0.0.0",
    ],
)
def test_blocked_ip_literals_are_refused_at_save_time_naming_the_setting(
    desk: Desk, host: str
) -> None:
    response = desk.admin.post(
        "/connections",
        json={
            "name": "Metadata",
            "provider": "custom",
            "grant_type": "client_credentials",
            "client_id": "x",
            "client_secret": "y",
            "token_url": f"https://{host}/token",
        },
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "token_url"
    assert "TOKENDESK_EGRESS_ALLOWLIST" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "https://2852039166/token",
        "https://0xA9FEA9FE/token",
        "https://127.1/token",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "ftp://example.com/token",
        "data:text/plain,hi",
        "https://idp.example.com/token#frag",
    ],
)
def test_other_encodings_and_schemes_are_refused_at_save_time(desk: Desk, url: str) -> None:
    response = desk.admin.post(
        "/connections",
        json={
            "name": "Odd",
            "provider": "custom",
            "grant_type": "client_credentials",
            "client_id": "x",
            "client_secret": "y",
            "token_url": url,
        },
    )

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "token_url"


def test_a_name_resolving_to_a_blocked_address_is_refused_when_connecting(desk: Desk) -> None:
    # "localhost" passes the save-time check (it is a name) but resolves to loopback, and only
    # 127.0.0.1 -- not the name, and not ::1 -- is allowlisted in these tests.
    outbound = Outbound(policy=EgressPolicy.parse(""))
    client = OAuthClient(outbound, desk.server.td.clock)
    spec = ClientSpec(
        client_id="cc-basic",
        client_secret=None,
        token_url=desk.oauth.token_endpoint.replace("127.0.0.1", "localhost"),
    )

    with pytest.raises(EgressDenied) as refused:
        client.client_credentials(spec)
    outbound.close()

    assert "TOKENDESK_EGRESS_ALLOWLIST" in refused.value.message
    assert desk.oauth.token_calls() == 0


def test_an_allowlisted_address_is_called(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic")

    assert desk.bot.get("/connections/Reports API/token").status_code == 200


def test_redirects_from_a_token_endpoint_are_not_followed(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic")
    desk.oauth.inject_fault(status=302, headers={"Location": "http://169.254.169.254/latest"})

    verdict = desk.admin.post("/connections/Reports API/test").json()

    assert verdict["ok"] is False
    assert "does not follow redirects" in verdict["message"]
    assert desk.oauth.token_calls() == 1
