"""Issue 12 in the wizard: the default scopes and notes follow the grant type chosen, also
without JavaScript (the next step shows the new grant type's defaults before going on)."""

from __future__ import annotations

import html
import re

from console_support import Console, field_error

from support.api import CLIENT_SECRET
from tokendesk.domain.principal import command_line_principal
from tokendesk.wiring import Tokendesk

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
CODE_FLOW = f"offline_access,openid,{GRAPH_DEFAULT}"
TENANT = "contoso.onmicrosoft.com"


def scopes_field(page: str) -> str:
    match = re.search(r'<input id="f-scopes" name="scopes" type="text" value="([^"]*)"', page)
    assert match, page[:2000]
    return html.unescape(match.group(1))


def notes_hidden(page: str, grant_type: str) -> bool:
    match = re.search(rf'<div data-grant-only="{grant_type}" data-grant-notes="{grant_type}"'
                      r'( hidden)?>', page)
    assert match, page[:2000]
    return match.group(1) is not None


def entra_wizard(admin: Console, name: str = "Graph") -> str:
    """A wizard at step 2 for a Microsoft Entra connection; returns its base path."""
    wizard = admin.get("/wizard/new").url.path.rsplit("/", 1)[0]
    moved = admin.post(f"{wizard}/settings", {"provider": "microsoft_entra", "name": name,
                                              "description": "", "go": "next"})
    assert moved.status_code == 303, moved.text[:2000]
    return wizard


def details(**fields: str) -> dict[str, str]:
    return {"client_id": "desk-client", "client_secret": CLIENT_SECRET,
            "placeholder-tenant": TENANT, "token_url": "", "authorization_url": "",
            "go": "next", **fields}


def test_the_authentication_step_offers_the_defaults_of_each_grant_type(admin: Console) -> None:
    wizard = entra_wizard(admin)

    page = admin.get(f"{wizard}/authentication").text

    assert scopes_field(page) == CODE_FLOW
    assert f'value="client_credentials" data-grant-choice data-default-scopes="{GRAPH_DEFAULT}"' in page
    assert f'value="authorization_code" checked data-grant-choice data-default-scopes="{CODE_FLOW}"' in page
    assert not notes_hidden(page, "authorization_code")
    assert notes_hidden(page, "client_credentials")
    assert "Microsoft Entra documentation" in page


def test_without_javascript_choosing_client_credentials_shows_its_defaults_on_the_next_step(
    admin: Console, td: Tokendesk
) -> None:
    wizard = entra_wizard(admin)

    switched = admin.post(f"{wizard}/authentication",
                          details(grant_type="client_credentials", scopes=CODE_FLOW))
    shown = admin.follow(switched)
    confirmed = admin.post(f"{wizard}/authentication",
                           details(grant_type="client_credentials", client_secret="",
                                   scopes=scopes_field(shown.text)))
    admin.post(f"{wizard}/test", {"go": "next"})
    admin.post(f"{wizard}/roles", {"go": "next"})
    admin.post(f"{wizard}/review", {"go": "create"})

    assert switched.headers["location"] == f"{wizard}/authentication"
    assert scopes_field(shown.text) == GRAPH_DEFAULT
    assert "The scopes are now the defaults of the Client Credentials Flow" in shown.text
    assert notes_hidden(shown.text, "authorization_code")
    assert not notes_hidden(shown.text, "client_credentials")
    assert confirmed.headers["location"] == f"{wizard}/test"
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), "Graph")
    assert connection.scopes == (GRAPH_DEFAULT,)


def test_scopes_a_person_typed_are_kept_when_the_grant_type_changes(admin: Console) -> None:
    wizard = entra_wizard(admin)

    moved = admin.post(f"{wizard}/authentication",
                       details(grant_type="client_credentials", scopes="api://billing/.default"))
    back = admin.get(f"{wizard}/authentication")

    assert moved.headers["location"] == f"{wizard}/test"
    assert scopes_field(back.text) == "api://billing/.default"
    assert not notes_hidden(back.text, "client_credentials")  # its notes, not the code flow's
    assert notes_hidden(back.text, "authorization_code")


def test_switching_back_restores_the_code_flow_defaults(admin: Console) -> None:
    wizard = entra_wizard(admin)
    admin.post(f"{wizard}/authentication",
               details(grant_type="client_credentials", scopes=CODE_FLOW))

    switched = admin.post(f"{wizard}/authentication",
                          details(grant_type="authorization_code", scopes=GRAPH_DEFAULT))

    assert switched.headers["location"] == f"{wizard}/authentication"
    assert scopes_field(admin.follow(switched).text) == CODE_FLOW


def test_google_workspace_without_a_scope_is_refused_at_the_scope_field(admin: Console) -> None:
    wizard = admin.get("/wizard/new").url.path.rsplit("/", 1)[0]
    admin.post(f"{wizard}/settings", {"provider": "google_workspace", "name": "Calendar",
                                      "description": "", "go": "next"})

    refused = admin.post(f"{wizard}/authentication", {
        "grant_type": "authorization_code", "client_id": "c", "client_secret": CLIENT_SECRET,
        "authorization_url": "", "token_url": "", "scopes": "", "go": "next"})

    assert refused.status_code == 422
    assert (field_error(refused.text, "scopes") or "").startswith("Enter at least one scope")
