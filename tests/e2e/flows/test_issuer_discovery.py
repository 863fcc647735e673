"""Fill a custom connection from its issuer (issue 15, item 4): the real authorization
server's RFC 8414 / OpenID Connect metadata fills the endpoints, PKCE and the client
authentication method; metadata naming another issuer, and an issuer the egress policy
refuses, are refused with the reason, and nothing is stored."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx

from support.authorization_server import AuthorizationServer
from support.desk import BOT_ROLE, Desk
from support.emulators.base import ProviderEmulator, json_response


def from_issuer(desk: Desk, name: str, issuer: str, client_id: str = "code-basic",
                **overrides: Any) -> httpx.Response:
    client = desk.oauth.clients[client_id]
    body = {
        "name": name, "provider": "custom", "grant_type": "authorization_code",
        "client_id": client.client_id, "client_secret": client.client_secret,
        "scopes": "openid api:read", "invited_roles": [BOT_ROLE], "issuer": issuer,
        **overrides,
    }
    return desk.admin.post("/connections", json=body)


def connection_names(desk: Desk) -> list[str]:
    return [c["name"] for c in desk.admin.get("/connections").json()]


def test_the_issuer_metadata_fills_a_custom_connection_that_then_works(desk: Desk) -> None:
    server = desk.oauth
    preview = desk.admin.get("/issuer-metadata", params={"issuer": server.issuer})
    created = from_issuer(desk, "Discovered", server.issuer)

    assert preview.status_code == 200, preview.text
    assert preview.json()["token_url"] == server.token_endpoint
    assert "api:read" in preview.json()["scopes_supported"]
    assert created.status_code == 201, created.text
    connection = created.json()
    assert connection["authorization_url"] == server.authorization_endpoint
    assert connection["token_url"] == server.token_endpoint
    assert connection["revocation_url"] == server.revocation_endpoint
    assert connection["pkce"] is True  # the server lists S256
    assert connection["client_auth_method"] == "client_secret_basic"  # listed, and preferred

    # Proof that the filled connection works: a real consent round trip, then a handout.
    client = server.clients["code-basic"]
    server.register_client(replace(client, redirect_uris=(
        *client.redirect_uris, connection["callback_url"])))
    link = desk.admin.post("/connections/Discovered/test", json={"save_credentials": True})
    desk.consent(link.json()["authorize_url"])
    handout = desk.bot.get("/connections/Discovered/token")
    assert handout.status_code == 200, handout.text
    assert server.requests("token")[-1]["code_verifier_sent"] is True  # PKCE was used


def test_what_the_administrator_typed_wins_over_the_metadata(desk: Desk) -> None:
    created = from_issuer(desk, "Typed", desk.oauth.issuer, pkce=False,
                          client_auth_method="client_secret_post",
                          revocation_url=desk.oauth.url("/elsewhere/revoke"))

    assert created.status_code == 201, created.text
    assert created.json()["pkce"] is False
    assert created.json()["client_auth_method"] == "client_secret_post"
    assert created.json()["revocation_url"] == desk.oauth.url("/elsewhere/revoke")
    assert created.json()["token_url"] == desk.oauth.token_endpoint


class Impostor(ProviderEmulator):
    """Publishes the real server's metadata, which names the real server as issuer, at its
    own address: a server passing itself off as another (RFC 8414 §3.3)."""

    def routes(self) -> dict[tuple[str, str], Any]:
        def metadata(request: httpx.Request) -> httpx.Response:
            return json_response(200, self.server.metadata)

        return {("GET", "/.well-known/oauth-authorization-server"): metadata,
                ("GET", "/.well-known/openid-configuration"): metadata}


def test_metadata_naming_another_issuer_is_refused_and_nothing_is_stored(
    desk: Desk, authorization_server: AuthorizationServer
) -> None:
    with Impostor(authorization_server) as impostor:
        preview = desk.admin.get("/issuer-metadata", params={"issuer": impostor.url})
        created = from_issuer(desk, "Impostor", impostor.url)

    for answer in (preview, created):
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["field"] == "issuer"
        assert "names another issuer" in error["message"]
    assert "Impostor" not in connection_names(desk)


def test_an_issuer_without_metadata_or_refused_by_the_egress_policy_is_named_plainly(
    desk: Desk,
) -> None:
    missing = from_issuer(desk, "Nothing there", desk.oauth.url("/no/such/issuer"))
    refused = from_issuer(desk, "Metadata service", "http://169.254.169.254")
    not_a_url = from_issuer(desk, "Typo", "login.example.com")
    for_catalog = from_issuer(desk, "Catalog", desk.oauth.issuer, provider="salesforce",
                              placeholders={"yourinstance": "acme.my"})

    assert missing.status_code == 422
    assert "publishes no authorization server metadata" in missing.json()["error"]["message"]
    assert "Enter the authorization and token URLs yourself" in missing.json()["error"]["message"]
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "issuer"
    assert "could not read the metadata" in refused.json()["error"]["message"]
    assert not_a_url.status_code == 422
    assert "is not an issuer URL" in not_a_url.json()["error"]["message"]
    assert for_catalog.status_code == 422
    assert "for custom connections" in for_catalog.json()["error"]["message"]
    assert connection_names(desk) == []
