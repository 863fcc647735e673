"""The Microsoft emulator is as strict as Microsoft documents it: error bodies, scopes of client
credentials, certificate assertions, redirect URIs (the pages are cited in the emulator)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from support.client_keys import key_pair
from support.emulators.microsoft import ASSERTION_TYPE, MicrosoftEmulator
from tokendesk.domain.secret import Secret
from tokendesk.oauth.assertion import CertificateHeader, ClientKey, client_assertion

TENANT = "contoso.onmicrosoft.com"
SECRET = "entra-secret~Value.7Q"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
Start = Callable[[type[MicrosoftEmulator]], MicrosoftEmulator]


@pytest.fixture
def microsoft(emulator: Start) -> MicrosoftEmulator:
    entra = emulator(MicrosoftEmulator)
    entra.register_app("app", client_secret=SECRET, certificate=key_pair("emulator-app"),
                       redirect_uris=("http://127.0.0.1:9/oauth/callback/1",))
    return entra


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=30, follow_redirects=False) as client:
        yield client


def token_url(microsoft: MicrosoftEmulator) -> str:
    return f"{microsoft.url}/{TENANT}/oauth2/v2.0/token"


def ask(http: httpx.Client, microsoft: MicrosoftEmulator, **form: str) -> httpx.Response:
    body = {"grant_type": "client_credentials", "client_id": "app", "scope": GRAPH_DEFAULT,
            **form}
    return http.post(token_url(microsoft), data={k: v for k, v in body.items() if v})


def assertion(microsoft: MicrosoftEmulator, *, audience: str | None = None,
              header: CertificateHeader | None = "x5t#S256", at: datetime | None = None) -> dict[str, str]:
    pair = key_pair("emulator-app")
    key = ClientKey(Secret(pair.key_pem), pair.certificate_pem, header)
    signed = client_assertion("app", audience or token_url(microsoft), key,
                              at or datetime.now(UTC))
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed}


def aadsts(answer: httpx.Response) -> tuple[int, str, list[Any]]:
    body = answer.json()
    assert set(body) >= {"error", "error_description", "error_codes", "timestamp", "trace_id",
                         "correlation_id"}
    assert body["error_description"].startswith(f"AADSTS{body['error_codes'][0]}: ")
    return answer.status_code, body["error"], body["error_codes"]


def test_client_credentials_take_exactly_one_resource_default_scope(
    http: httpx.Client, microsoft: MicrosoftEmulator
) -> None:
    two = ask(http, microsoft, client_secret=SECRET, scope=f"offline_access {GRAPH_DEFAULT}")
    named = ask(http, microsoft, client_secret=SECRET,
                scope="https://graph.microsoft.com/Mail.Read")
    good = ask(http, microsoft, client_secret=SECRET)

    assert aadsts(two) == aadsts(named) == (400, "invalid_scope", [1002012])
    assert good.status_code == 200, good.text
    assert set(good.json()) == {"token_type", "expires_in", "ext_expires_in", "access_token"}


def test_a_missing_field_a_wrong_secret_and_an_unknown_app_have_their_numbers(
    http: httpx.Client, microsoft: MicrosoftEmulator
) -> None:
    assert aadsts(ask(http, microsoft, client_secret=SECRET, scope="")) == (
        400, "invalid_request", [90014])
    assert aadsts(ask(http, microsoft, client_secret="wrong")) == (
        401, "invalid_client", [7000215])
    assert aadsts(ask(http, microsoft, client_id="nobody", client_secret=SECRET)) == (
        400, "unauthorized_client", [700016])


def test_a_certificate_assertion_is_accepted_once(
    http: httpx.Client, microsoft: MicrosoftEmulator
) -> None:
    signed = assertion(microsoft)

    first = ask(http, microsoft, **signed)
    replayed = ask(http, microsoft, **signed)

    assert first.status_code == 200, first.text
    assert aadsts(replayed) == (401, "invalid_client", [700027])


@pytest.mark.parametrize("change", ["audience", "no thumbprint", "expired"])
def test_an_assertion_microsoft_would_not_take_is_refused(
    http: httpx.Client, microsoft: MicrosoftEmulator, change: str
) -> None:
    signed = {
        "audience": lambda: assertion(microsoft, audience=f"{microsoft.url}/other/token"),
        "no thumbprint": lambda: assertion(microsoft, header=None),
        "expired": lambda: assertion(microsoft, at=datetime.now(UTC) - timedelta(hours=1)),
    }[change]()

    assert aadsts(ask(http, microsoft, **signed)) == (401, "invalid_client", [700027])


def test_authorization_for_an_unregistered_redirect_uri_is_refused(
    http: httpx.Client, microsoft: MicrosoftEmulator
) -> None:
    answer = http.get(f"{microsoft.url}/{TENANT}/oauth2/v2.0/authorize", params={
        "client_id": "app", "response_type": "code", "scope": "openid",
        "redirect_uri": "http://127.0.0.1:9/elsewhere", "state": "s"})

    assert aadsts(answer)[2] == [50011]
