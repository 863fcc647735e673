"""The console's connection form takes the API base URL of the API proxy (issue 16): typed
in the wizard, shown on the connection's page, changed in Edit only with the client secret."""

from __future__ import annotations

from console_support import Console, field_error

from support.api import CLIENT_SECRET
from tokendesk.domain.principal import command_line_principal
from tokendesk.wiring import Tokendesk

API = "https://api.example.test/v2"


def details(**overrides: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": "billing-app",
            "client_secret": CLIENT_SECRET, "token_url": "https://auth.example.test/token",
            "scopes": "api:read", "go": "next", **overrides}


def api_base_url(td: Tokendesk, name: str) -> str | None:
    with td.transaction() as tx:
        return td.connections.get(tx, command_line_principal(), name).api_base_url


def create(admin: Console, **overrides: str) -> None:
    wizard = admin.get("/wizard/new").url.path.rsplit("/", 1)[0]
    admin.post(f"{wizard}/settings", {"provider": "custom", "name": "Billing", "go": "next"})
    moved = admin.post(f"{wizard}/authentication", details(**overrides))
    assert moved.status_code == 303, moved.text[:2000]
    admin.post(f"{wizard}/test", {"go": "next"})
    admin.post(f"{wizard}/roles", {"go": "next"})
    admin.post(f"{wizard}/review", {"go": "create"})


def test_the_wizard_stores_the_api_base_url_and_the_page_shows_it(
    admin: Console, td: Tokendesk
) -> None:
    create(admin, api_base_url=API)

    assert api_base_url(td, "Billing") == API
    page = admin.get("/connections/Billing")
    assert "API base URL" in page.text and API in page.text


def test_edit_moving_the_api_base_url_asks_for_the_secret_and_emptying_it_clears_it(
    admin: Console, td: Tokendesk
) -> None:
    create(admin, api_base_url=API)
    draft = admin.get("/connections/Billing/edit").url.path.rsplit("/", 1)[0]

    refused = admin.post(f"{draft}/authentication", details(
        client_secret="", api_base_url="https://collector.example.net"))
    emptied = admin.post(f"{draft}/authentication", details(client_secret="", api_base_url=""))
    admin.post(f"{draft}/test", {"go": "next"})
    admin.post(f"{draft}/roles", {"go": "next"})
    admin.post(f"{draft}/review", {"go": "create"})

    assert refused.status_code == 422
    assert field_error(refused.text, "client_secret") == (
        "The API base URL now points at another server; enter the client secret again.")
    assert emptied.status_code == 303
    assert api_base_url(td, "Billing") is None
