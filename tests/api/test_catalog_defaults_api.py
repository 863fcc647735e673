"""Issue 12: a connection starts from its provider's defaults *for its grant type*.

Outbound calls go to a fake token endpoint at the transport level (``httpx.MockTransport``),
so what Tokendesk would send to Microsoft or Salesforce is seen exactly, without a network.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from support.api import ADMIN_PASSWORD, CLIENT_SECRET, Api
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.domain.principal import command_line_principal
from tokendesk.oauth.outbound import Outbound
from tokendesk.wiring import Tokendesk, build

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
TENANT = "contoso.onmicrosoft.com"


class FakeTokenEndpoint:
    """Answers every token request with a token, and keeps each request's form."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, list[str]]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((str(request.url), parse_qs(request.content.decode())))
        return httpx.Response(200, json={"access_token": "at-from-the-fake",
                                         "token_type": "Bearer", "expires_in": 3600})


@pytest.fixture
def endpoint() -> FakeTokenEndpoint:
    return FakeTokenEndpoint()


@pytest.fixture
def td(settings: Settings, endpoint: FakeTokenEndpoint) -> Iterator[Tokendesk]:
    outbound = Outbound(transport=httpx.MockTransport(endpoint))
    app = build(settings, outbound=outbound, passwords=CHEAP_PASSWORDS)
    with app.transaction() as tx:
        app.accounts.bootstrap_admin(tx, command_line_principal(), "admin", ADMIN_PASSWORD)
    yield app
    app.close()


def create(admin: Api, provider: str, grant_type: str, **fields: Any) -> httpx.Response:
    return admin.post("/connections", json={
        "name": f"{provider} {grant_type}", "provider": provider, "grant_type": grant_type,
        "client_id": "desk-client", "client_secret": CLIENT_SECRET, **fields})


@pytest.mark.parametrize("provider", ["microsoft_entra", "microsoft_365_outlook"])
def test_client_credentials_from_the_defaults_sends_only_the_graph_default_scope(
    admin: Api, endpoint: FakeTokenEndpoint, provider: str
) -> None:
    created = create(admin, provider, "client_credentials", placeholders={"tenant": TENANT})
    code_flow = create(admin, provider, "authorization_code", placeholders={"tenant": TENANT})
    tested = admin.post(f"/connections/{provider} client_credentials/test")

    assert created.status_code == 201, created.text
    assert created.json()["scopes"] == [GRAPH_DEFAULT]
    assert code_flow.json()["scopes"] == ["offline_access", "openid", GRAPH_DEFAULT]
    assert tested.status_code == 200 and tested.json()["ok"] is True, tested.text
    [(url, form)] = endpoint.calls
    assert url == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == [GRAPH_DEFAULT]


def test_sharepoint_app_only_defaults_to_the_sites_default_scope(admin: Api) -> None:
    created = create(admin, "sharepoint", "client_credentials", placeholders={
        "tenant-id": TENANT, "domain-name": "contoso.sharepoint.com"})

    assert created.status_code == 201, created.text
    assert created.json()["scopes"] == ["https://contoso.sharepoint.com/.default"]


def test_salesforce_client_credentials_asks_for_no_code_flow_scopes(
    admin: Api, endpoint: FakeTokenEndpoint
) -> None:
    created = create(admin, "salesforce", "client_credentials",
                     placeholders={"yourinstance": "acme.my"})
    tested = admin.post("/connections/salesforce client_credentials/test")

    assert created.status_code == 201, created.text
    assert created.json()["scopes"] == []
    assert tested.json()["ok"] is True, tested.text
    [(_url, form)] = endpoint.calls
    assert "scope" not in form


def test_changing_the_grant_type_moves_untouched_defaults_to_the_new_ones(admin: Api) -> None:
    create(admin, "microsoft_entra", "authorization_code", placeholders={"tenant": TENANT})
    create(admin, "microsoft_365_outlook", "authorization_code",
           placeholders={"tenant": TENANT}, scopes="Mail.Read,offline_access")

    moved = admin.patch("/connections/microsoft_entra authorization_code",
                        json={"grant_type": "client_credentials"})
    typed = admin.patch("/connections/microsoft_365_outlook authorization_code",
                        json={"grant_type": "client_credentials"})

    assert moved.status_code == 200, moved.text
    assert moved.json()["scopes"] == [GRAPH_DEFAULT]
    assert typed.json()["scopes"] == ["Mail.Read", "offline_access"]  # typed: kept


@pytest.mark.parametrize("scopes", [None, "", " , "])
def test_google_workspace_without_a_scope_is_refused_and_nothing_is_stored(
    admin: Api, scopes: str | None
) -> None:
    extra = {} if scopes is None else {"scopes": scopes}
    refused = create(admin, "google_workspace", "authorization_code", **extra)

    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == "scopes"
    assert error["message"] == (
        "Enter at least one scope: Google Workspace has no default scope for the "
        "Authorization Code Flow.")
    assert admin.get("/connections").json() == []


def test_google_workspace_with_a_scope_is_saved_with_google_current_endpoints(
    admin: Api,
) -> None:
    created = create(admin, "google_workspace", "authorization_code",
                     scopes="https://www.googleapis.com/auth/calendar")

    assert created.status_code == 201, created.text
    assert created.json()["authorization_url"].startswith(
        "https://accounts.google.com/o/oauth2/v2/auth?")
    assert created.json()["token_url"] == "https://oauth2.googleapis.com/token"


def test_servicenow_accepts_a_full_host_and_keeps_short_names(admin: Api) -> None:
    custom = create(admin, "servicenow", "client_credentials",
                    placeholders={"yourinstance": "itsm.example.com"})
    hosted = create(admin, "servicenow", "authorization_code",
                    placeholders={"yourinstance": "acme.servicenowservices.com"})

    assert custom.json()["token_url"] == "https://itsm.example.com/oauth_token.do", custom.text
    assert hosted.json()["authorization_url"] == (
        "https://acme.servicenowservices.com/oauth_auth.do")


def test_the_provider_api_shows_defaults_per_grant_type(admin: Api) -> None:
    entra = admin.get("/providers/microsoft_entra").json()
    google = admin.get("/providers/google_workspace").json()

    assert entra["grants"]["client_credentials"]["default_scopes"] == [GRAPH_DEFAULT]
    assert entra["grants"]["authorization_code"]["default_scopes"] == [
        "offline_access", "openid", GRAPH_DEFAULT]
    assert entra["grants"]["client_credentials"]["placeholders"] == ["tenant"]
    assert entra["documentation_url"].startswith("https://learn.microsoft.com/")
    assert google["grants"]["authorization_code"]["scopes_required"] is True
    assert google["refresh_token_lifetimes"]["testing_app_lifetime_days"] == 7
