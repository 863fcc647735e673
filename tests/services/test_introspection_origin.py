"""The introspection URL (RFC 7662) gets the client authentication, so it is used only when
it shares the connection's token URL origin; else the catalog default lifetime applies."""

from __future__ import annotations

from tokendesk.catalog import load_catalog
from tokendesk.services.connection_rules import introspection_url_in_force

SALESFORCE = load_catalog().get("salesforce")


def test_the_introspection_url_of_the_token_urls_org_is_used() -> None:
    url = introspection_url_in_force(
        SALESFORCE, "https://acme.my.salesforce.com/services/oauth2/token",
        {"yourinstance": "acme.my"})

    assert url == "https://acme.my.salesforce.com/services/oauth2/introspect"


def test_no_introspection_when_the_token_url_points_at_another_origin() -> None:
    url = introspection_url_in_force(
        SALESFORCE, "https://test.salesforce.com/services/oauth2/token",
        {"yourinstance": "acme.my"})

    assert url is None


def test_no_introspection_without_the_placeholders_to_fill_it() -> None:
    assert introspection_url_in_force(
        SALESFORCE, "https://acme.my.salesforce.com/services/oauth2/token", {}) is None
    assert introspection_url_in_force(
        load_catalog().get("jira"), "https://auth.atlassian.com/oauth/token", {}) is None
