"""Issue 12 in the console: Genesys Cloud's region is a <select> of the documented regions
(https://developer.genesys.cloud/platform/api/), not free text, and a value outside it is
refused at that field; the chosen region's login host becomes the token URL. A token's page
says where its expiry came from (Salesforce: the provider's introspection)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from console_support import Console, field_error

from support.api import CLIENT_SECRET, connection_body
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import ExpirySource, TokenKind, TokenSet
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.wiring import Tokendesk


def genesys_wizard(admin: Console) -> str:
    """A wizard at step 2 for a Genesys connection; returns its base path."""
    wizard = admin.get("/wizard/new").url.path.rsplit("/", 1)[0]
    moved = admin.post(f"{wizard}/settings", {"provider": "genesys", "name": "Contact centre",
                                              "description": "", "go": "next"})
    assert moved.status_code == 303, moved.text[:2000]
    return wizard


def details(region: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": "gc-client",
            "client_secret": CLIENT_SECRET, "placeholder-region": region, "token_url": "",
            "authorization_url": "", "scopes": "", "go": "next"}


def region_options(page: str) -> list[tuple[str, str]]:
    select = re.search(r'<select id="f-placeholder-region" name="placeholder-region"[^>]*>'
                       r"(.*?)</select>", page, re.S)
    assert select, page[:3000]
    return [(value, html.unescape(text).strip()) for value, text in
            re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))]


def test_the_region_is_a_select_of_the_fifteen_documented_regions(admin: Console) -> None:
    wizard = genesys_wizard(admin)

    page = admin.get(f"{wizard}/authentication").text

    options = region_options(page)
    assert options[0] == ("", "Choose…")
    assert len(options) == 16
    assert ("mypurecloud.com", "Americas (US East) us-east-1 — mypurecloud.com") in options
    assert ("use2.us-gov-pure.cloud",
            "Americas (US East 2, FedRAMP) us-east-2 — use2.us-gov-pure.cloud") in options
    assert '<input id="f-placeholder-region"' not in page


def test_a_region_outside_the_list_is_refused_at_the_region_field(admin: Console) -> None:
    wizard = genesys_wizard(admin)

    refused = admin.post(f"{wizard}/authentication", details("usw9.pure.cloud"))

    assert refused.status_code == 422
    error = html.unescape(field_error(refused.text, "placeholder-region") or "")
    assert error.startswith("'usw9.pure.cloud' is not a Genesys Cloud region")
    assert "mypurecloud.ie (EMEA (Dublin) eu-west-1)" in error


def test_the_chosen_region_stays_selected_and_gives_the_token_url(
    admin: Console, td: Tokendesk
) -> None:
    wizard = genesys_wizard(admin)

    moved = admin.post(f"{wizard}/authentication", details("mypurecloud.com.au"))
    back = admin.get(f"{wizard}/authentication").text
    admin.post(f"{wizard}/test", {"go": "next"})
    admin.post(f"{wizard}/roles", {"go": "next"})
    admin.post(f"{wizard}/review", {"go": "create"})

    assert moved.headers["location"] == f"{wizard}/test"
    assert '<option value="mypurecloud.com.au" selected>' in back
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), "Contact centre")
    assert connection.token_url == "https://login.mypurecloud.com.au/oauth/token"


def test_the_connection_page_says_where_the_tokens_expiry_came_from(
    admin: Console, td: Tokendesk
) -> None:
    with td.transaction() as tx:  # Salesforce: no expires_in, its introspection said
        td.connections.create(tx, command_line_principal(),
                              ConnectionCreate.model_validate(connection_body()))
        connection = td.connections.get(tx, command_line_principal(), "Salesforce prod")
        td.tokens.store(tx, connection, TokenKind.SHARED, None, TokenSet(
            Secret("at-1"), "Bearer", td.clock() + timedelta(minutes=15),
            expiry_source=ExpirySource.INTROSPECTION))

    page = admin.get("/connections/Salesforce prod").text

    assert "<span class=\"muted\" data-expiry-source>(the provider&#39;s introspection said)" in page
