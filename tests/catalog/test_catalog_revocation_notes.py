"""Issue 12: every certified provider without an RFC 7009 revocation endpoint says, as
catalog data, what a person must do at the provider to end a token Tokendesk cannot revoke."""

from __future__ import annotations

import pytest

from tokendesk.catalog import load_catalog

CATALOG = load_catalog()
# Custom is no provider of its own: a custom connection may type a revocation URL.
CERTIFIED = [key for key in CATALOG if key != "custom"]
WITHOUT_REVOCATION = [key for key in CERTIFIED if CATALOG.get(key).revocation_url is None]


def test_the_providers_without_revocation_are_the_documented_ones() -> None:
    assert sorted(WITHOUT_REVOCATION) == [
        "genesys", "jira", "microsoft_365_outlook", "microsoft_entra", "sharepoint"]


@pytest.mark.parametrize("key", WITHOUT_REVOCATION)
def test_a_provider_without_a_revocation_endpoint_says_what_to_do_there(key: str) -> None:
    note = CATALOG.get(key).revocation_note

    assert note is not None
    assert "no revocation endpoint" in note
    assert "To end" in note or "to end it now" in note


def test_atlassian_sends_people_to_connected_apps() -> None:
    note = CATALOG.get("jira").revocation_note
    assert note is not None and "Connected apps" in note


def test_microsoft_names_the_consent_to_remove() -> None:
    for key in ("microsoft_entra", "microsoft_365_outlook", "sharepoint"):
        note = CATALOG.get(key).revocation_note
        assert note is not None and "Enterprise applications" in note
