"""Google Workspace and Apigee (X and hybrid: Google's own endpoints) end to end, against the
Google emulator (tests/support/emulators/google.py): connections made from the catalog's
defaults consent, hand out, refresh and disconnect as Google documents; Google's refusals
reach the administrator as plain verdicts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from support.authorization_server import AuthorizationError, AuthorizationServer
from support.emulators.google import EXPIRED_OR_REVOKED, SERVER_OPTIONS, GoogleEmulator
from support.emulators.journey import client_for, connection_from_catalog
from support.emulators.scene import Scene
from support.tokendesk_server import Clock, TokendeskServer
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S

CALENDAR = "https://www.googleapis.com/auth/calendar"
ONE_HOUR_S = 3600


@pytest.fixture(scope="module")
def authorization_server_options() -> dict[str, Any]:
    return dict(SERVER_OPTIONS)


@pytest.fixture
def google(authorization_server: AuthorizationServer) -> Iterator[GoogleEmulator]:
    with GoogleEmulator(authorization_server) as emulator:
        yield emulator


@pytest.fixture
def scene(tokendesk: TokendeskServer, google: GoogleEmulator, admin: httpx.Client,
          bot: httpx.Client) -> Scene:
    return Scene(tokendesk, google, admin, bot)


def workspace(scene: Scene, name: str = "Calendar", **typed: Any) -> dict[str, Any]:
    """A Google Workspace connection as the wizard makes it: a scope preset picked."""
    return connection_from_catalog(
        scene.admin, scene.emulator, name=name, provider="google_workspace",
        grant_type="authorization_code",
        client=client_for(f"{name.lower()}.apps.googleusercontent.com", "authorization_code"),
        scopes=CALENDAR, **typed)


def authorization_requests(google: GoogleEmulator) -> list[dict[str, str]]:
    return [{k: v[0] for k, v in parse_qs(urlsplit(str(r.url)).query).items()}
            for r in google.requests_to("/o/oauth2/v2/auth")]


def test_a_workspace_connection_from_the_catalog_consents_hands_out_refreshes_and_disconnects(
    scene: Scene, google: GoogleEmulator, clock: Clock
) -> None:
    workspace(scene)

    landing = scene.consent(scene.consent_link("Calendar"))
    first = scene.handout("Calendar")
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)  # past the window that answers without a call
    renewed = scene.refresh("Calendar")
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    again = scene.refresh("Calendar")
    disconnected = scene.admin.delete("/connections/Calendar/tokens/shared")

    assert landing.status_code == 303
    [asked] = authorization_requests(google)
    assert asked["scope"] == CALENDAR
    assert (asked["access_type"], asked["prompt"]) == ("offline", "consent")  # catalog data
    assert first.status_code == 200, first.text
    assert first.json()["scope"] == CALENDAR
    assert renewed.status_code == again.status_code == 200, (renewed.text, again.text)
    tokens = {first.json()["access_token"], renewed.json()["access_token"],
              again.json()["access_token"]}
    assert len(tokens) == 3
    refreshes = google.server.requests("token")[1:]
    assert [r["grant_type"] for r in refreshes] == ["refresh_token", "refresh_token"]
    # Google sends no new refresh token: Tokendesk keeps using the one of the consent.
    assert refreshes[0]["refresh_token_sha256"] == refreshes[1]["refresh_token_sha256"]
    assert disconnected.status_code == 204, disconnected.text
    assert google.requests_to("/revoke")  # the revocation reached Google
    assert google.server.requests("revocation")[0]["status"] == 200
    assert scene.handout("Calendar").json()["error"]["code"] == "not_authenticated"


def test_a_second_consent_gets_a_refresh_token_again_because_the_catalog_asks_prompt_consent(
    scene: Scene, google: GoogleEmulator
) -> None:
    workspace(scene)
    scene.consent(scene.consent_link("Calendar"))

    scene.consent(scene.consent_link("Calendar"))  # re-authenticate: not the first consent

    assert scene.token_state("Calendar")["refreshable"] is True
    issued = [r["issued_refresh_token_sha256"] for r in google.server.requests("token")]
    assert len(issued) == 2 and all(issued)


def test_without_prompt_consent_google_gives_no_refresh_token_after_the_first_consent(
    scene: Scene, google: GoogleEmulator
) -> None:
    endpoint = scene.provider("google_workspace")["authorization_url"].split("?")[0]
    url = google.at(endpoint + "?access_type=offline&prompt=select_account")  # typed over
    workspace(scene, authorization_url=url)
    scene.consent(scene.consent_link("Calendar"))
    assert scene.token_state("Calendar")["refreshable"] is True  # the first consent

    scene.consent(scene.consent_link("Calendar"))

    assert scene.token_state("Calendar")["refreshable"] is False


def test_access_type_online_gets_no_refresh_token_even_at_the_first_consent(
    scene: Scene, google: GoogleEmulator
) -> None:
    endpoint = scene.provider("google_workspace")["authorization_url"].split("?")[0]
    workspace(scene, authorization_url=google.at(endpoint + "?access_type=online"))

    scene.consent(scene.consent_link("Calendar"))

    [asked] = authorization_requests(google)
    assert (asked["access_type"], asked["prompt"]) == ("online", "consent")
    assert scene.token_state("Calendar")["refreshable"] is False


def test_a_wrong_client_secret_gets_a_verdict_naming_invalid_client(
    scene: Scene, google: GoogleEmulator
) -> None:
    workspace(scene, client_secret="GOCSPX-typed-wrong")

    page = scene.verdict(scene.consent_link("Calendar"))

    assert "invalid_client" in page
    assert "client ID or client secret was not accepted" in page
    assert "GOCSPX-typed-wrong" not in page
    assert google.server.requests("token")[0]["status"] == 401


def test_a_refresh_token_revoked_at_google_asks_for_reauthentication_in_googles_words(
    scene: Scene, google: GoogleEmulator, clock: Clock
) -> None:
    workspace(scene)
    scene.consent(scene.consent_link("Calendar"))
    [exchange] = google.server.requests("token")
    client = google.server.clients["calendar.apps.googleusercontent.com"]
    # The user removes the app's access in their Google Account: Google revokes the grant.
    revoked = httpx.post(f"{google.url}/revoke", trust_env=False, data={
        "token": scene.handout("Calendar").json()["access_token"],
        "client_id": client.client_id, "client_secret": client.client_secret or ""})
    clock.advance(ONE_HOUR_S)  # the access token has expired: a refresh is due

    handout = scene.handout("Calendar")

    assert revoked.status_code == 200 and exchange["status"] == 200
    assert handout.status_code == 409, handout.text
    assert handout.json()["error"]["code"] == "reauthentication_required"
    state = scene.token_state("Calendar")
    assert state["needs_reauthentication"] is True
    assert EXPIRED_OR_REVOKED in state["last_error"]


def test_an_apigee_connection_from_the_catalog_uses_googles_endpoints_end_to_end(
    scene: Scene, google: GoogleEmulator, clock: Clock
) -> None:
    connection_from_catalog(
        scene.admin, google, name="Apigee", provider="apigee", grant_type="authorization_code",
        client=client_for("apigee.apps.googleusercontent.com", "authorization_code"))

    landing = scene.consent(scene.consent_link("Apigee"))
    first = scene.handout("Apigee")
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    renewed = scene.refresh("Apigee")
    disconnected = scene.admin.delete("/connections/Apigee/tokens/shared")

    assert landing.status_code == 303
    [asked] = authorization_requests(google)
    assert asked["scope"] == "https://www.googleapis.com/auth/cloud-platform"  # the default
    assert (asked["access_type"], asked["prompt"]) == ("offline", "consent")
    assert "code_challenge" not in asked  # the Apigee entry: no PKCE
    assert first.status_code == 200 and renewed.status_code == 200, (first.text, renewed.text)
    assert renewed.json()["access_token"] != first.json()["access_token"]
    assert disconnected.status_code == 204
    assert google.requests_to("/revoke")


def test_a_scope_google_does_not_know_stops_on_googles_page_before_any_consent(
    scene: Scene, google: GoogleEmulator
) -> None:
    connection_from_catalog(
        scene.admin, google, name="Calendar", provider="google_workspace",
        grant_type="authorization_code",
        client=client_for("calendar.apps.googleusercontent.com", "authorization_code"),
        scopes="https://www.googleapis.com/auth/calender")  # a typo

    with pytest.raises(AuthorizationError) as shown:
        scene.consent(scene.consent_link("Calendar"))

    assert "invalid_scope" in shown.value.error
    assert "auth/calender" in shown.value.description
    assert google.server.stats()["authorization"]["total"] == 0
