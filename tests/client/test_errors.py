"""Every error answer of Tokendesk, and every failure to reach it, becomes one exception of
the SDK's documented tree, the same from the sync and the async client; no httpx error escapes."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import tokendesk.errors as server_errors
from support.event_loop import run as run_coroutine
from support.mock_tokendesk import API_KEY, BASE_URL, error_answer, token_answer
from tokendesk.client import (
    APIError,
    AsyncClient,
    AuthenticationFailed,
    BackingOff,
    Client,
    Diagnosis,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    NotInvited,
    ProtocolError,
    ProviderFailed,
    ReauthenticationRequired,
    Timeout,
    TokendeskClientError,
    TokendeskError,
    TokenUnavailable,
    TransportError,
    Unavailable,
)
from tokendesk.client.errors import error_from_response

Handler = Callable[[httpx.Request], httpx.Response]


def get_token(mode: str, handler: Handler, **kwargs: Any) -> Any:
    """``get_token("Reports API")`` through the sync or the async client."""
    if mode == "sync":
        with Client(BASE_URL, API_KEY, transport=httpx.MockTransport(handler)) as client:
            return client.get_token("Reports API", **kwargs)

    async def fetch() -> Any:
        async with AsyncClient(BASE_URL, API_KEY,
                               transport=httpx.MockTransport(handler)) as client:
            return await client.get_token("Reports API", **kwargs)

    return run_coroutine(fetch())


def refusing(answer: httpx.Response) -> Handler:
    return lambda request: answer


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


@MODES
@pytest.mark.parametrize(("status", "code", "expected"), [
    (401, "authentication_required", AuthenticationFailed),
    (401, "invalid_credentials", AuthenticationFailed),
    (403, "permission_denied", NotInvited),
    (403, "not_invited", NotInvited),
    (404, "connection_not_found", NotFound),
    (404, "not_found", NotFound),
    (422, "validation_error", InvalidRequest),
    (400, "malformed_json", InvalidRequest),
    (409, "not_authenticated", NotAuthenticated),
    (409, "reauthentication_required", ReauthenticationRequired),
    (409, "connection_misconfigured", TokenUnavailable),
    (409, "token_corrupted", TokenUnavailable),
    (502, "provider_error", ProviderFailed),
    (504, "provider_timeout", ProviderFailed),
    (503, "refresh_backing_off", BackingOff),
    (503, "database_unavailable", Unavailable),
    (503, "database_busy", Unavailable),
    (429, "too_many_attempts", Unavailable),
    (500, "internal_error", APIError),
    (404, "a_code_of_a_newer_tokendesk", NotFound),
    (503, "a_code_of_a_newer_tokendesk", Unavailable),
])
def test_each_error_code_raises_its_exception(
    mode: str, status: int, code: str, expected: type[APIError]
) -> None:
    with pytest.raises(TokendeskError) as caught:
        get_token(mode, refusing(error_answer(status, code, "Said for a person.")))

    assert type(caught.value) is expected
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.message == str(caught.value) == "Said for a person."


@MODES
def test_a_token_that_needs_consent_says_where(mode: str) -> None:
    url = f"{BASE_URL}/my/connections/Reports%20API"
    answer = error_answer(409, "reauthentication_required", authenticate_url=url)

    with pytest.raises(ReauthenticationRequired) as caught:
        get_token(mode, refusing(answer), token_type="user")

    assert caught.value.authenticate_url == url
    assert isinstance(caught.value, TokenUnavailable)


@MODES
def test_a_refused_refresh_carries_the_state_and_the_diagnosis(mode: str) -> None:
    diagnosis = {"cause": "revoked", "reason": "Most likely revoked at the provider.",
                 "action": "A person must consent again."}
    answer = error_answer(409, "reauthentication_required", state="needs_consent",
                          diagnosis=diagnosis)
    backing_off = error_answer(503, "refresh_backing_off", state="backing_off")

    with pytest.raises(ReauthenticationRequired) as refused:
        get_token(mode, refusing(answer))
    with pytest.raises(BackingOff) as waiting:
        get_token(mode, refusing(backing_off))

    assert refused.value.state == "needs_consent"
    assert refused.value.diagnosis == Diagnosis("revoked", "Most likely revoked at the provider.",
                                                "A person must consent again.")
    assert (waiting.value.state, waiting.value.diagnosis) == ("backing_off", None)


def test_a_diagnosis_out_of_the_wire_format_is_left_out() -> None:
    answer = error_answer(409, "reauthentication_required", diagnosis={"cause": 3})

    assert error_from_response(answer).diagnosis is None


@MODES
def test_backing_off_carries_retry_after_and_the_provider_failure_its_cause(mode: str) -> None:
    backing_off = error_answer(503, "refresh_backing_off", headers={"Retry-After": "7"})
    failed = error_answer(502, "provider_error", cause="invalid_client")

    with pytest.raises(BackingOff) as waiting:
        get_token(mode, refusing(backing_off))
    with pytest.raises(ProviderFailed) as provider:
        get_token(mode, refusing(failed))

    assert waiting.value.retry_after == 7.0
    assert provider.value.cause == "invalid_client"


def test_retry_after_as_an_http_date_and_missing() -> None:
    dated = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
                           json={"error": {"code": "database_busy", "message": "Busy."}})
    bare = httpx.Response(503, json={"error": {"code": "database_busy", "message": "Busy."}})

    dated_error, bare_error = error_from_response(dated), error_from_response(bare)

    assert isinstance(dated_error, Unavailable) and dated_error.retry_after == 0.0  # past
    assert isinstance(bare_error, Unavailable) and bare_error.retry_after is None


@MODES
def test_an_error_page_that_is_not_the_api_shape_still_maps_by_status(mode: str) -> None:
    page = httpx.Response(502, text="<html>Bad gateway</html>")

    with pytest.raises(Unavailable) as caught:
        get_token(mode, refusing(page))

    assert caught.value.code == "http_502"
    assert "502" in caught.value.message


@MODES
@pytest.mark.parametrize("body", [
    {"text": "not json"},
    {"json": {"token": "no access_token field"}},
    {"json": ["a list"]},
    {"json": {"access_token": "t", "expires_at": "not a time"}},
], ids=["not-json", "no-access-token", "a-list", "bad-expiry"])
def test_a_success_answer_out_of_the_wire_format_is_a_protocol_error(
    mode: str, body: dict[str, Any]
) -> None:
    with pytest.raises(ProtocolError) as caught:
        get_token(mode, refusing(httpx.Response(200, **body)))

    assert caught.value.code == "protocol_error"


@MODES
@pytest.mark.parametrize(("raised", "expected", "code"), [
    (httpx.ConnectError("connection refused"), TransportError, "transport_error"),
    (httpx.RemoteProtocolError("peer closed"), TransportError, "transport_error"),
    (httpx.ReadTimeout("read timed out"), Timeout, "timeout"),
    (httpx.DecodingError("bad gzip"), ProtocolError, "protocol_error"),
], ids=["connect", "remote-protocol", "timeout", "decoding"])
def test_httpx_errors_are_wrapped_never_raised(
    mode: str, raised: httpx.HTTPError, expected: type[TokendeskError], code: str
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise raised

    with pytest.raises(TokendeskError) as caught:
        get_token(mode, fail)

    assert type(caught.value) is expected
    assert caught.value.code == code and caught.value.status is None
    assert caught.value.__cause__ is raised
    assert API_KEY not in caught.value.message


def test_the_old_exception_name_catches_everything_the_sdk_raises() -> None:
    assert TokendeskClientError is TokendeskError
    with pytest.raises(TokendeskClientError) as caught:
        get_token("sync", refusing(error_answer(404, "connection_not_found")))

    assert caught.value.status == 404 and caught.value.authenticate_url is None


def test_every_api_error_code_that_a_bot_can_meet_has_its_own_exception() -> None:
    """Each code of the server's error tree maps to a branch below APIError, except server
    faults (500), conflicts of editing endpoints that the token endpoints never answer, and
    the API proxy's own refusals (its answers reach a bot as plain httpx responses)."""
    answered_by_the_base = [
        kind.code for _, kind in inspect.getmembers(server_errors, inspect.isclass)
        if issubclass(kind, server_errors.TokendeskError) and kind.status != 500
        and type(error_from_response(error_answer(kind.status, kind.code))) is APIError
    ]

    assert sorted(answered_by_the_base) == [
        "body_too_large", "conflict", "duplicate_name", "no_api_base_url"]


@MODES
def test_a_good_answer_still_gives_the_token(mode: str) -> None:
    token = get_token(mode, refusing(token_answer("tok-1")))

    assert token.access_token == "tok-1" and token.authorization == "Bearer tok-1"


@MODES
def test_not_being_invited_names_the_invited_roles(mode: str) -> None:
    answer = error_answer(403, "not_invited", "None of your roles is invited.",
                          invited_roles=["Sales bots", "Reporting"])

    with pytest.raises(NotInvited) as caught:
        get_token(mode, refusing(answer))

    assert caught.value.invited_roles == ("Sales bots", "Reporting")
    assert (caught.value.status, caught.value.code) == (403, "not_invited")


def test_the_not_invited_code_is_mapped_by_code_not_only_by_status() -> None:
    # A proxy in front may turn the status into something else; the code still decides.
    refused = error_from_response(error_answer(400, "not_invited", invited_roles="not a list"))

    assert type(refused) is NotInvited
    assert refused.invited_roles == ()
