"""Issue 12, provider facts learned beyond the token response: Salesforce's real token
lifetime by introspection, Atlassian's cloud id after consent, and Genesys Cloud's missing
revocation endpoint said on disconnect. Each provider is an emulator of its documentation
(provider_emulators.py) behind the desk's real OAuth client, on a real migrated database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from lifecycle_support import INVITED_ROLE, ManualClock, create_invited_role, principal, sqlite_only
from provider_emulators import (
    ATLASSIAN_CLOUD_ID,
    SALESFORCE_CLIENT_ID,
    SALESFORCE_ORG,
    AtlassianCloud,
    GenesysRegion,
    SalesforceOrg,
    site,
)
from sqlalchemy import select

from oauth.oauth_fakes import NOW
from support.api import CLIENT_SECRET
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.domain.principal import Principal, command_line_principal
from tokendesk.domain.tokens import TokenKind
from tokendesk.oauth.outbound import Outbound
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.storage.tables import audit_events
from tokendesk.tokens.consent_flow import Purpose
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S
from tokendesk.views.tokens import TokenStatusOut
from tokendesk.wiring import Tokendesk, build

pytestmark = sqlite_only

Emulator = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def desk(settings: Settings, clock: ManualClock) -> Iterator[Callable[[Emulator], Tokendesk]]:
    opened: list[Tokendesk] = []

    def open_with(emulator: Emulator) -> Tokendesk:
        td = build(settings, clock=clock, passwords=CHEAP_PASSWORDS,
                   outbound=Outbound(transport=httpx.MockTransport(emulator)))
        create_invited_role(td)
        opened.append(td)
        return td

    yield open_with
    for td in opened:
        td.close()


def create(td: Tokendesk, name: str, provider: str, grant_type: str, **fields: Any) -> None:
    body = {"name": name, "provider": provider, "grant_type": grant_type,
            "client_id": fields.pop("client_id", "client-1"), "client_secret": CLIENT_SECRET,
            "invited_roles": [INVITED_ROLE], **fields}
    with td.transaction() as tx:
        td.connections.create(tx, command_line_principal(), ConnectionCreate(**body))


def status_of(td: Tokendesk, actor: Principal, name: str) -> TokenStatusOut:
    with td.transaction(read_only=True) as tx:
        [token] = td.tokens.statuses(tx, actor, name)
    return TokenStatusOut.of(token)


def consent(td: Tokendesk, name: str) -> None:
    admin = principal(td, "desk-admin", roles=("Administrator",))
    with td.transaction() as tx:
        flow = td.consent.start(tx, admin, name, Purpose.SHARED)
    state = parse_qs(urlsplit(flow.provider_url).query)["state"][0]
    outcome = td.consent.complete({"state": state, "code": "code-1"},
                                  browser_binding=flow.browser_binding,
                                  session_user_id=admin.user_id,
                                  connection_id=own_callback_id(flow.provider_url))
    assert outcome.ok, outcome.message


def own_callback_id(provider_url: str) -> str | None:
    """The connection id in the redirect URI the flow sent: the answer comes back there."""
    redirect_uri = parse_qs(urlsplit(provider_url).query)["redirect_uri"][0]
    _, _, connection_id = redirect_uri.partition("/oauth/callback/")
    return connection_id or None


# --- Salesforce: the org's session timeout, by introspection -------------------------------


def salesforce(desk: Callable[[Emulator], Tokendesk], clock: ManualClock,
               **org: Any) -> tuple[Tokendesk, SalesforceOrg]:
    emulator = SalesforceOrg(clock=clock, client_secret=CLIENT_SECRET, **org)
    td = desk(emulator)
    create(td, "Salesforce", "salesforce", "client_credentials",
           client_id=SALESFORCE_CLIENT_ID, placeholders={"yourinstance": "acme.my"})
    return td, emulator


def test_a_salesforce_token_expires_when_the_orgs_introspection_says(
    desk: Callable[[Emulator], Tokendesk], clock: ManualClock
) -> None:
    td, org = salesforce(desk, clock, session_s=900)  # a 15-minute session timeout
    bot = principal(td, "sf-bot")

    handout = td.tokens.handout(bot, "Salesforce", TokenKind.SHARED)

    assert handout.expires_at == NOW + timedelta(seconds=900)  # not the two-hour default
    assert handout.extra["instance_url"] == SALESFORCE_ORG
    [asked] = org.introspections()
    assert asked["token"] == handout.access_token.reveal()
    assert asked["token_type_hint"] == "access_token"
    # the connected app's own client authentication (client_secret_post)
    assert (asked["client_id"], asked["client_secret"]) == (SALESFORCE_CLIENT_ID, CLIENT_SECRET)
    state = status_of(td, principal(td, "sf-admin", roles=("Administrator",)), "Salesforce")
    assert state.valid_until_source == "the provider's introspection said"


def test_a_salesforce_token_is_refreshed_before_a_short_session_ends(
    desk: Callable[[Emulator], Tokendesk], clock: ManualClock
) -> None:
    td, org = salesforce(desk, clock, session_s=900)
    bot = principal(td, "sf-bot")
    td.tokens.handout(bot, "Salesforce", TokenKind.SHARED)
    clock.advance(20 * 60)  # past the session, well within the two-hour default

    again = td.tokens.handout(bot, "Salesforce", TokenKind.SHARED)

    token_requests = [r for r in org.requests if r.url.path.endswith("/token")]
    assert len(token_requests) == 2  # a new token, not the dead one
    assert again.expires_at == clock() + timedelta(seconds=900)


def test_when_introspection_fails_the_catalog_default_applies_and_says_so(
    desk: Callable[[Emulator], Tokendesk], clock: ManualClock
) -> None:
    td, org = salesforce(desk, clock, introspection_status=503)
    bot = principal(td, "sf-bot")

    handout = td.tokens.handout(bot, "Salesforce", TokenKind.SHARED)

    assert len(org.introspections()) == 1
    assert handout.expires_at == NOW + timedelta(seconds=7200)
    state = status_of(td, principal(td, "sf-admin", roles=("Administrator",)), "Salesforce")
    assert state.valid_until_source == (
        "catalog default (the provider's introspection endpoint did not answer)")


# --- Atlassian: the cloud id, fetched after consent ----------------------------------------


def jira(desk: Callable[[Emulator], Tokendesk],
         cloud: AtlassianCloud) -> tuple[Tokendesk, Principal]:
    td = desk(cloud)
    create(td, "Jira", "jira", "authorization_code")
    consent(td, "Jira")
    return td, principal(td, "jira-bot")


def test_the_cloud_id_is_fetched_after_consent_and_handed_out_with_the_token(
    desk: Callable[[Emulator], Tokendesk]
) -> None:
    cloud = AtlassianCloud()
    td, bot = jira(desk, cloud)

    handout = td.tokens.handout(bot, "Jira", TokenKind.SHARED)

    assert handout.extra == {"cloud_id": ATLASSIAN_CLOUD_ID,
                             "site_url": "https://your-domain.atlassian.net"}
    assert cloud.resource_calls() == 1


def test_the_cloud_id_survives_a_refresh(
    desk: Callable[[Emulator], Tokendesk], clock: ManualClock
) -> None:
    cloud = AtlassianCloud()
    td, bot = jira(desk, cloud)
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)  # past the window that answers without a call

    refreshed = td.tokens.handout(bot, "Jira", TokenKind.SHARED, force_refresh=True)

    assert refreshed.access_token.reveal() == "atl-at-2"
    assert refreshed.extra["cloud_id"] == ATLASSIAN_CLOUD_ID


def test_an_account_with_several_sites_keeps_the_list(
    desk: Callable[[Emulator], Tokendesk]
) -> None:
    cloud = AtlassianCloud(sites=[site(ATLASSIAN_CLOUD_ID, "acme"), site("c0ffee", "acme-eu")])
    td, bot = jira(desk, cloud)

    handout = td.tokens.handout(bot, "Jira", TokenKind.SHARED)

    assert handout.extra == {"sites": [
        {"cloud_id": ATLASSIAN_CLOUD_ID, "site_url": "https://acme.atlassian.net"},
        {"cloud_id": "c0ffee", "site_url": "https://acme-eu.atlassian.net"},
    ]}


def test_a_consent_whose_sites_cannot_be_listed_fails_and_says_why(
    desk: Callable[[Emulator], Tokendesk]
) -> None:
    td = desk(AtlassianCloud(sites=[]))
    create(td, "Jira", "jira", "authorization_code")
    admin = principal(td, "desk-admin", roles=("Administrator",))
    with td.transaction() as tx:
        flow = td.consent.start(tx, admin, "Jira", Purpose.SHARED)
    state = parse_qs(urlsplit(flow.provider_url).query)["state"][0]

    outcome = td.consent.complete({"state": state, "code": "code-1"},
                                  browser_binding=flow.browser_binding,
                                  session_user_id=admin.user_id,
                                  connection_id=own_callback_id(flow.provider_url))

    assert not outcome.ok
    assert "lists nothing this token may reach" in outcome.message


# --- Genesys Cloud: no revocation endpoint --------------------------------------------------


def test_disconnecting_a_genesys_token_says_it_stays_valid_and_what_to_do(
    desk: Callable[[Emulator], Tokendesk]
) -> None:
    region = GenesysRegion()
    td = desk(region)
    create(td, "Genesys", "genesys", "client_credentials",
           placeholders={"region": "mypurecloud.de"})
    bot = principal(td, "gc-bot")
    td.tokens.handout(bot, "Genesys", TokenKind.SHARED)
    admin = principal(td, "desk-admin", roles=("Administrator",))

    note = td.tokens.disconnect(admin, "Genesys", TokenKind.SHARED)

    assert note == (
        "Genesys Cloud offers no revocation endpoint; the token stays valid until it expires "
        "— remove the OAuth client's authorization in Genesys Cloud Admin > OAuth to end it now.")
    assert [r.url.path for r in region.requests] == ["/oauth/token"]  # nothing to revoke at
    with td.engine.connect() as conn:
        event = conn.execute(select(audit_events).where(
            audit_events.c.action == "token.disconnect")).one()
    assert event.details["not_revoked_at_provider"] == note
