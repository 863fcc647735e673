"""Provider error numbers (Microsoft's AADSTS codes) become plain verdicts that name the fix.

The verdicts are catalog data (``[error_verdicts]`` of the three Microsoft provider files); the
OAuth client reads a token endpoint error's ``error_codes`` member, never its wording. Error
bodies are shaped as the Microsoft identity platform documents them
(https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from oauth_fakes import CLIENT_SECRET, FakeTokenEndpoint, client_spec

from tokendesk.catalog import load_catalog
from tokendesk.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)
from tokendesk.oauth.client import OAuthClient

CATALOG = load_catalog()
MICROSOFT = ("microsoft_entra", "microsoft_365_outlook", "sharepoint")


def aadsts(error: str, number: int, text: str = "Something went wrong.") -> httpx.Response:
    """A Microsoft identity platform error body (error, error_description, error_codes...)."""
    return httpx.Response(400 if error != "invalid_client" else 401, json={
        "error": error,
        "error_description": f"AADSTS{number}: {text}\r\nTrace ID: 0000\r\nTimestamp: "
                             "2026-11-28 14:00:00Z",
        "error_codes": [number],
        "timestamp": "2026-11-28 14:00:00Z",
        "trace_id": "0000",
        "correlation_id": "1111",
    })


def refused(oauth: OAuthClient, endpoint: FakeTokenEndpoint, answer: httpx.Response,
            provider: str = "microsoft_entra", **spec: Any) -> ProviderError:
    entry = CATALOG.get(provider)
    endpoint.answer(answer)
    with pytest.raises(ProviderError) as caught:
        oauth.client_credentials(client_spec(
            transient_error_codes=entry.transient_error_codes,
            error_verdicts=tuple(entry.error_verdicts.items()), **spec))
    return caught.value


@pytest.mark.parametrize(("error", "number", "kind", "verdict"), [
    ("invalid_client", 7000215, InvalidClient, "the client secret is wrong: enter the current one"),
    ("invalid_client", 7000222, InvalidClient,
     "the client secret has expired in Entra: create a new one and enter it"),
    ("unauthorized_client", 700016, ProviderRejected,
     "the application was not found in the tenant: check the tenant and the client ID"),
    ("invalid_grant", 65001, InvalidGrant, "an administrator must consent"),
    ("invalid_grant", 50173, InvalidGrant, "authenticate again"),
    ("invalid_grant", 70008, InvalidGrant, "the refresh token has expired or was revoked: "
                                           "authenticate again"),
    ("invalid_grant", 700082, InvalidGrant, "the refresh token has expired after being unused: "
                                            "authenticate again"),
    ("invalid_scope", 1002012, InvalidScope, "use the one scope <resource>/.default"),
    ("invalid_request", 90014, ProviderRejected, "a required field is missing"),
])
def test_each_documented_aadsts_number_gets_its_plain_verdict(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, error: str, number: int,
    kind: type[ProviderRejected], verdict: str,
) -> None:
    raised = refused(oauth, endpoint, aadsts(error, number))

    assert isinstance(raised, kind)
    assert not raised.transient
    assert raised.message.startswith(f"{error}: ")
    assert verdict in raised.message
    assert f"AADSTS{number}" in raised.message  # the provider's own words follow the verdict


def test_a_request_loop_is_transient_and_says_so(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    raised = refused(oauth, endpoint, aadsts("invalid_grant", 50196))

    assert isinstance(raised, ProviderUnavailable)
    assert raised.transient
    assert "request loop" in raised.message and "retry later" in raised.message


def test_without_catalog_verdicts_the_generic_words_stay(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(aadsts("invalid_client", 7000215))
    with pytest.raises(InvalidClient) as caught:
        oauth.client_credentials(client_spec())

    assert "the client ID or client secret was not accepted" in caught.value.message
    assert "enter the current one" not in caught.value.message


def test_a_number_without_a_verdict_keeps_the_generic_words(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    raised = refused(oauth, endpoint, aadsts("invalid_scope", 70011))

    assert raised.message.startswith("invalid_scope: a requested scope is not allowed")


def test_the_verdict_is_read_from_error_codes_not_from_the_wording(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    answer = httpx.Response(401, json={"error": "invalid_client",
                                       "error_description": "AADSTS7000222: expired",
                                       "error_codes": ["7000222", True]})
    raised = refused(oauth, endpoint, answer)

    assert "has expired in Entra" not in raised.message


def test_the_secret_echoed_by_the_provider_is_masked_after_the_verdict(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    raised = refused(oauth, endpoint, aadsts("invalid_client", 7000215,
                                             f"Invalid client secret {CLIENT_SECRET}."))

    assert "enter the current one" in raised.message
    assert CLIENT_SECRET not in raised.message


@pytest.mark.parametrize("provider", MICROSOFT)
def test_every_microsoft_provider_carries_the_same_verdicts(provider: str) -> None:
    numbers = {7000215, 7000222, 700016, 65001, 50173, 70008, 700082, 1002012, 90014, 50196}
    verdicts = CATALOG.get(provider).error_verdicts
    entra = CATALOG.get("microsoft_entra").error_verdicts

    assert set(verdicts) == numbers
    assert {n: v for n, v in verdicts.items() if n != 1002012} == {
        n: v for n, v in entra.items() if n != 1002012}
