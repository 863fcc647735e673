"""Issue 12: every certified provider without an RFC 7009 revocation endpoint says, as
catalog data, what a person must do at the provider to end a token Tokendesk cannot revoke;
and a provider's own wording of standard token errors is catalog data too."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.test_catalog_provider_facts import refused
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


def test_servicenow_says_what_its_own_refusal_means_per_grant() -> None:
    answers = {(a.error, a.error_description, a.grant_types, a.means)
               for a in CATALOG.get("servicenow").error_answers}

    assert answers == {
        ("server_error", "access_denied", ("authorization_code", "client_credentials"),
         "invalid_client"),
        ("server_error", "access_denied", ("refresh_token",), "invalid_grant"),
    }


def test_an_error_answer_must_mean_a_standard_error(tmp_path: Path) -> None:
    error = refused(tmp_path, "servicenow", 'means = "invalid_grant"', 'means = "try_again"')
    assert "try_again" in error.message and "invalid_grant" in error.message


def test_an_error_answer_names_token_requests_only(tmp_path: Path) -> None:
    error = refused(tmp_path, "servicenow", 'grant_types = ["refresh_token"]',
                    'grant_types = ["password"]')
    assert "password is no token request's grant" in error.message
