"""The introspection URL (RFC 7662) gets the client authentication, so it is asked only at the
connection's token URL origin -- where the client secret already goes -- at the path the
catalog names; without an introspection endpoint in the catalog the default lifetime applies."""

from __future__ import annotations

from tokendesk.catalog import load_catalog
from tokendesk.services.connection_rules import introspection_url_in_force

SALESFORCE = load_catalog().get("salesforce")


def test_the_introspection_url_of_the_token_urls_org_is_used() -> None:
    url = introspection_url_in_force(
        SALESFORCE, "https://acme.my.salesforce.com/services/oauth2/token",
        {"yourinstance": "acme.my"})

    assert url == "https://acme.my.salesforce.com/services/oauth2/introspect"


def test_a_token_url_at_another_origin_is_introspected_there_never_at_the_template() -> None:
    url = introspection_url_in_force(
        SALESFORCE, "https://test.salesforce.com/services/oauth2/token",
        {"yourinstance": "acme.my"})

    assert url == "https://test.salesforce.com/services/oauth2/introspect"


def test_the_placeholders_are_not_needed_for_the_token_urls_origin() -> None:
    url = introspection_url_in_force(
        SALESFORCE, "https://acme.my.salesforce.com/services/oauth2/token", {})

    assert url == "https://acme.my.salesforce.com/services/oauth2/introspect"


def test_no_introspection_for_a_provider_without_an_introspection_endpoint() -> None:
    assert introspection_url_in_force(
        load_catalog().get("jira"), "https://auth.atlassian.com/oauth/token", {}) is None
