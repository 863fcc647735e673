"""Issue 12 through the REST API: Genesys Cloud's region is a choice from the documented list
(https://developer.genesys.cloud/platform/api/), refused with a 422 naming the allowed values,
and disconnecting a Genesys token says it stays valid and what to do in Genesys Cloud."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.api import ADMIN_PASSWORD, CLIENT_SECRET, Api
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.domain.principal import command_line_principal
from tokendesk.oauth.outbound import Outbound
from tokendesk.wiring import Tokendesk, build

NOTE = ("Genesys Cloud offers no revocation endpoint; the token stays valid until it expires "
        "— remove the OAuth client's authorization in Genesys Cloud Admin > OAuth to end it now.")


class GenesysFrankfurt:
    """login.mypurecloud.de: the client credentials grant
    (https://developer.genesys.cloud/authorization/platform-auth/), no revocation endpoint."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(f"{request.url.host}{request.url.path}")
        if str(request.url) == "https://login.mypurecloud.de/oauth/token":
            return httpx.Response(200, json={"access_token": "gc-at", "token_type": "bearer",
                                             "expires_in": 86399})
        return httpx.Response(404)


@pytest.fixture
def genesys() -> GenesysFrankfurt:
    return GenesysFrankfurt()


@pytest.fixture
def td(settings: Settings, genesys: GenesysFrankfurt) -> Iterator[Tokendesk]:
    app = build(settings, outbound=Outbound(transport=httpx.MockTransport(genesys)),
                passwords=CHEAP_PASSWORDS)
    with app.transaction() as tx:
        app.accounts.bootstrap_admin(tx, command_line_principal(), "admin", ADMIN_PASSWORD)
    yield app
    app.close()


def create(admin: Api, region: str, **fields: Any) -> httpx.Response:
    return admin.post("/connections", json={
        "name": "Contact centre", "provider": "genesys", "grant_type": "client_credentials",
        "client_id": "gc-client", "client_secret": CLIENT_SECRET,
        "placeholders": {"region": region}, **fields})


def test_the_provider_lists_the_genesys_regions_as_choices(admin: Api) -> None:
    genesys = admin.get("/providers/genesys").json()

    [region] = genesys["placeholders"]
    assert len(region["choices"]) == 15
    assert {"value": "mypurecloud.jp", "label": "Asia Pacific (Tokyo) ap-northeast-1"} in (
        region["choices"])
    assert genesys["revocation_note"] == NOTE


def test_a_region_outside_the_list_is_a_422_naming_the_allowed_values(admin: Api) -> None:
    refused = create(admin, "login.evil.example")

    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "validation_error"
    assert "'login.evil.example' is not a Genesys Cloud region" in error["message"]
    assert "mypurecloud.com (Americas (US East) us-east-1)" in error["message"]
    assert "use2.us-gov-pure.cloud" in error["message"]


def test_disconnecting_a_genesys_token_answers_what_to_do_in_genesys_cloud(
    admin: Api, genesys: GenesysFrankfurt
) -> None:
    assert create(admin, "mypurecloud.de").status_code == 201
    tested = admin.post("/connections/Contact centre/test", json={"save_credentials": True})
    assert tested.json()["ok"], tested.text

    disconnected = admin.delete("/connections/Contact centre/tokens/shared")

    assert disconnected.status_code == 200, disconnected.text
    assert disconnected.json() == {"revoked_at_provider": False, "message": NOTE}
    assert genesys.paths == ["login.mypurecloud.de/oauth/token"]
    [event] = admin.get("/audit", params={"action": "token.disconnect"}).json()
    assert event["details"]["not_revoked_at_provider"] == NOTE
