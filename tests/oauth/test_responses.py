"""Token endpoint answers are read strictly: RFC 6749 §5.1 successes and §5.2 errors.

Every answer goes through the real client and outbound code, served by a fake token endpoint
behind ``httpx.MockTransport``; the clock is fixed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from oauth_fakes import (
    CLIENT_SECRET,
    NOW,
    FakeTokenEndpoint,
    client_spec,
    oauth_error,
    token_json,
    unsigned_jwt,
)

from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenSet
from tokendesk.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidProviderResponse,
    InvalidScope,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    RedirectUriMismatch,
    UnauthorizedClient,
)
from tokendesk.oauth.client import OAuthClient
from tokendesk.oauth.error_answers import ErrorAnswer
from tokendesk.oauth.outbound import Outbound
from tokendesk.oauth.responses import DESCRIPTION_MAX, RETRY_AFTER_MAX_S, retry_after_s


class SteppingClock:
    """A clock the fake provider moves forward while it "takes time" to answer."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def request_token(oauth: OAuthClient, endpoint: FakeTokenEndpoint, answer: httpx.Response,
                  **spec: Any) -> TokenSet:
    endpoint.answer(answer)
    return oauth.client_credentials(client_spec(**spec))


def refused(oauth: OAuthClient, endpoint: FakeTokenEndpoint, answer: httpx.Response,
            expected: type[ProviderError] = InvalidProviderResponse, **spec: Any) -> ProviderError:
    with pytest.raises(expected) as caught:
        request_token(oauth, endpoint, answer, **spec)
    return caught.value


# --- RFC 6749 §5.1: access_token and token_type -----------------------------------------------


@pytest.mark.parametrize("access_token", [None, "", 42, ["at"]])
def test_an_answer_without_a_usable_access_token_is_an_invalid_response(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, access_token: Any
) -> None:
    answer = httpx.Response(200, json={"token_type": "Bearer", "access_token": access_token})
    error = refused(oauth, endpoint, answer)
    assert error.transient
    assert "access_token" in error.message


def test_a_missing_token_type_means_bearer(oauth: OAuthClient,
                                           endpoint: FakeTokenEndpoint) -> None:
    assert request_token(oauth, endpoint, token_json(token_type=None)).token_type == "Bearer"


@pytest.mark.parametrize("token_type", ["bearer", "BEARER", "Bearer"])
def test_the_bearer_token_type_is_read_whatever_its_case(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, token_type: str
) -> None:
    assert request_token(oauth, endpoint, token_json(token_type=token_type)).token_type == "Bearer"


@pytest.mark.parametrize("token_type", ["mac", "DPoP", "N_A", "", 42])
def test_a_token_type_other_than_bearer_is_refused(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, token_type: Any
) -> None:
    error = refused(oauth, endpoint, token_json(token_type=token_type))
    assert "unknown type" in error.message


def test_the_access_token_is_kept_as_a_secret(oauth: OAuthClient,
                                              endpoint: FakeTokenEndpoint) -> None:
    tokens = request_token(oauth, endpoint, token_json(access_token="at-secret-value"))
    assert tokens.access_token == Secret("at-secret-value")
    assert "at-secret-value" not in repr(tokens)


# --- expires_in --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires_in", "lifetime_s"),
    [(3600, 3600), ("3600", 3600), (3599.9, 3599), ("59.5", 59), (1, 1)],
)
def test_expires_in_is_read_from_a_number_or_a_numeric_string(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, expires_in: Any, lifetime_s: int
) -> None:
    tokens = request_token(oauth, endpoint, token_json(expires_in=expires_in),
                           default_token_lifetime_s=7200)
    assert tokens.expires_at == NOW + timedelta(seconds=lifetime_s)


def test_expires_in_counts_from_when_the_request_was_sent_not_when_the_answer_came(
    endpoint: FakeTokenEndpoint
) -> None:
    """RFC 6749 §5.1: a slow answer must not stretch the token's life past the provider's."""
    clock = SteppingClock(NOW)

    def slow_answer(request: httpx.Request) -> httpx.Response:
        clock.now += timedelta(seconds=40)  # the provider took 40 s to answer
        return token_json(expires_in=3600)

    endpoint.answer(slow_answer)
    oauth = OAuthClient(Outbound(transport=httpx.MockTransport(endpoint)), clock)
    tokens = oauth.client_credentials(client_spec())

    assert tokens.expires_at == NOW + timedelta(seconds=3600)


@pytest.mark.parametrize(("expires_in", "lifetime_s"),
                         [(3_600_000, 3600), ("7200000", 7200), (1500, 1)])
def test_a_provider_that_counts_milliseconds_says_so_in_its_catalog_entry(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, expires_in: Any, lifetime_s: int
) -> None:
    tokens = request_token(oauth, endpoint, token_json(expires_in=expires_in),
                           expires_in_unit="ms")
    assert tokens.expires_at == NOW + timedelta(seconds=lifetime_s)


@pytest.mark.parametrize("expires_in", [400 * 86400, 3_600_000_000, "1e12", 8e13])
def test_an_expires_in_over_a_year_is_capped_at_a_year_and_logged(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, expires_in: Any,
    caplog: pytest.LogCaptureFixture
) -> None:
    tokens = request_token(oauth, endpoint, token_json(expires_in=expires_in))

    assert tokens.expires_at == NOW + timedelta(days=365)
    assert 'expires_in_unit = "ms"' in caplog.text and "over a year" in caplog.text


def test_a_jwt_exp_years_away_is_capped_at_a_year_too(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    jwt = unsigned_jwt({"exp": int((NOW + timedelta(days=3000)).timestamp())})
    tokens = request_token(oauth, endpoint, token_json(access_token=jwt, expires_in=None))
    assert tokens.expires_at == NOW + timedelta(days=365)


@pytest.mark.parametrize("expires_in", [0, "0", "", -30])
def test_an_expires_in_of_zero_or_less_counts_as_not_given(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, expires_in: Any
) -> None:
    # Taken literally, such a token would be expired on arrival and never handed out.
    with_default = request_token(oauth, endpoint, token_json(expires_in=expires_in),
                                 default_token_lifetime_s=7200)
    assert with_default.expires_at == NOW + timedelta(hours=2)
    assert request_token(oauth, endpoint, token_json(expires_in=expires_in)).expires_at is None


def test_a_missing_expires_in_takes_the_providers_default_lifetime(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    tokens = request_token(oauth, endpoint, token_json(expires_in=None),
                           default_token_lifetime_s=7200)
    assert tokens.expires_at == NOW + timedelta(seconds=7200)


def test_a_missing_expires_in_is_read_from_the_exp_claim_of_a_jwt_access_token(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    exp = NOW + timedelta(minutes=45)
    jwt = unsigned_jwt({"sub": "bot", "exp": int(exp.timestamp())})
    tokens = request_token(oauth, endpoint, token_json(access_token=jwt, expires_in=None))
    assert tokens.expires_at == exp


def test_the_providers_default_lifetime_comes_before_the_jwt_exp_claim(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    jwt = unsigned_jwt({"exp": int((NOW + timedelta(minutes=45)).timestamp())})
    tokens = request_token(oauth, endpoint, token_json(access_token=jwt, expires_in=None),
                           default_token_lifetime_s=600)
    assert tokens.expires_at == NOW + timedelta(seconds=600)


@pytest.mark.parametrize(
    "access_token",
    ["opaque-token", unsigned_jwt({"sub": "bot"}), unsigned_jwt({"exp": "tomorrow"}),
     unsigned_jwt({"exp": True}), "eyJhbGciOiJub25lIn0.not-base64-json.", "a.b.c.d.e"],
)
def test_a_missing_expires_in_without_default_or_exp_claim_leaves_the_expiry_unknown(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, access_token: str
) -> None:
    tokens = request_token(oauth, endpoint, token_json(access_token=access_token,
                                                       expires_in=None))
    assert tokens.expires_at is None


@pytest.mark.parametrize("expires_in", ["abc", True, False, [], {}, [3600], "nan", "inf",
                                        "1e400", 1e300, " "])
def test_an_expires_in_that_is_not_a_number_is_an_invalid_response(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, expires_in: Any
) -> None:
    error = refused(oauth, endpoint, token_json(expires_in=expires_in),
                    default_token_lifetime_s=7200)
    assert "expires_in" in error.message


# --- scope, refresh_token and kept fields --------------------------------------------------------


def test_a_scope_list_is_joined_with_spaces(oauth: OAuthClient,
                                            endpoint: FakeTokenEndpoint) -> None:
    tokens = request_token(oauth, endpoint, token_json(scope=["api", "refresh_token"]))
    assert tokens.scope == "api refresh_token"


def test_a_scope_string_is_kept_and_a_missing_scope_is_empty(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    assert request_token(oauth, endpoint, token_json(scope="read write")).scope == "read write"
    assert request_token(oauth, endpoint, token_json()).scope == ""


@pytest.mark.parametrize("scope", [42, {"api": True}, ["api", 7]])
def test_a_scope_that_is_neither_text_nor_a_list_of_text_is_refused(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, scope: Any
) -> None:
    assert "scope" in refused(oauth, endpoint, token_json(scope=scope)).message


def test_a_refresh_token_in_the_answer_is_returned_as_a_secret(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    tokens = request_token(oauth, endpoint, token_json(refresh_token="rt-1"))
    assert tokens.refresh_token == Secret("rt-1")
    assert request_token(oauth, endpoint, token_json(refresh_token="")).refresh_token is None


def test_kept_response_fields_are_kept_but_never_a_token(oauth: OAuthClient,
                                                         endpoint: FakeTokenEndpoint) -> None:
    answer = token_json(instance_url="https://acme.my.salesforce.com", id="https://id/00D/005",
                        refresh_token="rt-1", id_token="id-token-value",
                        signature="sig", nested={"a": 1})
    keep = ("instance_url", "id", "refresh_token", "access_token", "id_token", "nested",
            "not_sent")
    tokens = request_token(oauth, endpoint, answer, keep_response_fields=keep)
    assert tokens.extra == {"instance_url": "https://acme.my.salesforce.com",
                            "id": "https://id/00D/005"}


# --- bodies that are not a token response ----------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"<!doctype html><html><body>Sign in</body></html>",
        b'{"access_token": "at-1", "token_type": "Bea',
        b'[{"access_token": "at-1"}]',
        b"",
        b'"at-1"',
        b"\xff\xfe\x00garbage",
        b"[" * 100_000,
    ],
    ids=["html", "truncated", "array", "empty", "string", "not-utf8", "deeply-nested"],
)
def test_a_200_body_that_is_not_a_json_object_is_a_transient_invalid_response(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, body: bytes
) -> None:
    answer = httpx.Response(200, content=body, headers={"content-type": "text/html"})
    error = refused(oauth, endpoint, answer)
    assert error.transient
    assert error.kind == "invalid_response"


def test_a_200_carrying_an_oauth_error_is_that_error(oauth: OAuthClient,
                                                     endpoint: FakeTokenEndpoint) -> None:
    refused(oauth, endpoint, oauth_error(200, "invalid_grant"), InvalidGrant)


def test_an_error_member_that_is_null_does_not_spoil_a_good_answer(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    assert request_token(oauth, endpoint, token_json(error=None, foo=1)).access_token


# --- RFC 6749 §5.2: error responses ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (400, "invalid_grant", InvalidGrant),
        (401, "invalid_client", InvalidClient),
        (400, "invalid_client", InvalidClient),
        (400, "invalid_scope", InvalidScope),
        (400, "unauthorized_client", UnauthorizedClient),
        (400, "redirect_uri_mismatch", RedirectUriMismatch),
    ],
)
def test_an_oauth_error_becomes_its_own_permanent_error(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, status: int, error: str,
    expected: type[ProviderRejected]
) -> None:
    raised = refused(oauth, endpoint, oauth_error(status, error), expected)
    assert type(raised) is expected
    assert isinstance(raised, ProviderRejected)
    assert raised.oauth_error == error
    assert not raised.transient
    assert raised.message.startswith(f"{error}: ")


def test_a_providers_own_error_code_named_in_the_catalog_reads_as_the_standard_one(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    answer = oauth_error(400, "invalid_client_id", "client identifier invalid")

    salesforce = ErrorAnswer("invalid_client_id", "invalid_client",
                             ("authorization_code", "refresh_token", "client_credentials"))

    raised = refused(oauth, endpoint, answer, InvalidClient, error_answers=(salesforce,))

    assert raised.oauth_error == "invalid_client"
    assert raised.message.startswith("invalid_client: the client ID or client secret")
    assert "invalid_client_id client identifier invalid" in raised.message  # still quoted


def test_an_error_code_the_catalog_does_not_name_stays_the_providers_own(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    raised = refused(oauth, endpoint, oauth_error(400, "invalid_client_id"), ProviderRejected)

    assert raised.oauth_error == "invalid_client_id"


def test_an_unknown_oauth_error_is_a_plain_rejection(oauth: OAuthClient,
                                                     endpoint: FakeTokenEndpoint) -> None:
    raised = refused(oauth, endpoint, oauth_error(400, "unsupported_grant_type"), ProviderRejected)
    assert type(raised) is ProviderRejected
    assert "does not support this grant type" in raised.message


@pytest.mark.parametrize(
    "description",
    [
        "Invalid redirect_uri: does not match the one used in the authorization request",
        "The 'redirect_uri' parameter does not match",
    ],
)
def test_invalid_grant_about_the_redirect_uri_is_a_redirect_uri_mismatch(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, description: str
) -> None:
    raised = refused(oauth, endpoint, oauth_error(400, "invalid_grant", description),
                     RedirectUriMismatch)
    assert "callback URL is not registered" in raised.message


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_is_a_transient_unavailability(oauth: OAuthClient,
                                                      endpoint: FakeTokenEndpoint,
                                                      status: int) -> None:
    answer = httpx.Response(status, text="<html>Bad gateway</html>")
    raised = refused(oauth, endpoint, answer, ProviderUnavailable)
    assert raised.transient
    assert raised.retry_after_s is None
    assert f"HTTP {status}" in raised.message


def test_a_server_error_is_unavailability_even_with_an_oauth_error_body(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    # A 500 that says invalid_client must not mark a connection misconfigured.
    assert refused(oauth, endpoint, oauth_error(500, "invalid_client"), ProviderUnavailable)


@pytest.mark.parametrize(
    ("retry_after", "seconds"),
    [("120", 120.0), (" 7 ", 7.0), ("0", 0.0), ("999999", RETRY_AFTER_MAX_S), ("-5", 0.0),
     ("soon", None), ("nan", None), (None, None)],
)
def test_a_429_carries_the_retry_after_delay_in_seconds_bounded(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, retry_after: str | None,
    seconds: float | None
) -> None:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    raised = refused(oauth, endpoint, httpx.Response(429, headers=headers), ProviderUnavailable)
    assert raised.transient
    assert raised.retry_after_s == seconds
    assert "rate limiting" in raised.message


@pytest.mark.parametrize(
    ("when", "seconds"),
    [(NOW + timedelta(seconds=90), 90.0), (NOW - timedelta(minutes=5), 0.0),
     (NOW + timedelta(days=3), RETRY_AFTER_MAX_S)],
)
def test_a_retry_after_http_date_is_counted_from_the_clock(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, when: datetime, seconds: float
) -> None:
    headers = {"retry-after": format_datetime(when, usegmt=True)}
    raised = refused(oauth, endpoint, httpx.Response(503, headers=headers), ProviderUnavailable)
    assert raised.retry_after_s == seconds


def test_retry_after_reads_an_http_date_without_a_zone_as_utc() -> None:
    naive = "Sat, 28 Nov 2026 14:01:00 -0000"
    assert retry_after_s(naive, now=NOW) == 60.0
    assert retry_after_s("Sat, 28 Nov 2026 14:01:00", now=NOW) == 60.0
    assert retry_after_s("Sat, 99 Foo 2026", now=NOW) is None


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(404, text="<html><h1>Not Found</h1></html>"),
     httpx.Response(400, json={"message": "bad"}),
     httpx.Response(401, content=b""),
     httpx.Response(400, json={"error": 42}),
     httpx.Response(400, json={"error": "bad\u00e9\"code"})],
    ids=["404-html", "json-without-error", "401-empty", "error-not-text", "error-not-a-code"],
)
def test_an_error_status_without_an_oauth_error_is_a_transient_invalid_response(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, answer: httpx.Response
) -> None:
    raised = refused(oauth, endpoint, answer)
    assert raised.transient
    assert f"HTTP {answer.status_code}" in raised.message


# --- nothing we sent comes back out in a message ------------------------------------------------


def echo_everything(request: httpx.Request) -> httpx.Response:
    """A provider that quotes our whole request back in its error_description."""
    sent = request.content.decode()
    everything = f"{sent} {request.headers.get('authorization', '')}"
    raw = " ".join(value for _, value in parse_qsl(sent))
    return oauth_error(400, "invalid_grant", f"Rejected {everything} ({raw})")


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_an_error_description_echoing_what_we_sent_is_masked(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, method: str
) -> None:
    secret = "s3cr+t with:odd%chars"
    refresh_token = "rt-7f8a9b&x=1"
    endpoint.answer(echo_everything)
    spec = client_spec(client_secret=Secret(secret), client_auth_method=method)
    with pytest.raises(InvalidGrant) as caught:
        oauth.refresh(spec, Secret(refresh_token))
    shown = f"{caught.value} {caught.value!r} {caught.value.message}"
    for value in (secret, refresh_token, "s3cr%2Bt+with%3Aodd%25chars", "rt-7f8a9b%26x%3D1"):
        assert value not in shown
    assert "********" in shown


def test_an_error_description_echoing_the_code_and_verifier_is_masked(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(echo_everything)
    with pytest.raises(ProviderRejected) as caught:
        oauth.exchange_code(client_spec(), code=Secret("code-4f2a"),
                            redirect_uri="https://desk.example.com/oauth/callback",
                            code_verifier=Secret("verifier-9c1d" * 4))
    for value in ("code-4f2a", "verifier-9c1d", CLIENT_SECRET):
        assert value not in caught.value.message


def test_an_error_code_echoing_a_secret_is_masked(oauth: OAuthClient,
                                                  endpoint: FakeTokenEndpoint) -> None:
    endpoint.answer(oauth_error(400, f"bad_secret_{CLIENT_SECRET}"))
    with pytest.raises(ProviderRejected) as caught:
        oauth.client_credentials(client_spec())
    assert CLIENT_SECRET not in str(caught.value)
    assert CLIENT_SECRET not in caught.value.oauth_error


def test_the_message_is_bounded_however_long_the_providers_words(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(oauth_error(400, "x" * 5000, "blah " * 10_000))
    with pytest.raises(ProviderRejected) as caught:
        oauth.client_credentials(client_spec())
    assert len(caught.value.message) < 64 + 100 + DESCRIPTION_MAX
    assert len(caught.value.oauth_error) <= 64


def test_an_error_description_with_credentials_of_its_own_is_scrubbed(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    words = "Header Authorization: Bearer abc.def.ghi was refused; password=hunter2"
    endpoint.answer(oauth_error(401, "invalid_client", words))
    with pytest.raises(InvalidClient) as caught:
        oauth.client_credentials(client_spec())
    assert "hunter2" not in caught.value.message
    assert "abc.def.ghi" not in caught.value.message



# --- tokens that could split a header -----------------------------------------------------------


@pytest.mark.parametrize("bad", ["at\r\nX-Injected: 1", "at\n", "a\x00t", "a\tt", "a\x7ft",
                                 "a\x85t", "a\u2028t"])
@pytest.mark.parametrize("field", ["access_token", "refresh_token"])
def test_a_token_with_control_characters_is_refused_not_handed_out(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, bad: str, field: str
) -> None:
    error = refused(oauth, endpoint, token_json(**{field: bad}))

    assert "control characters" in error.message
    assert bad not in error.message and "X-Injected" not in error.message


def test_tokens_of_printable_characters_are_accepted() -> None:
    from tokendesk.domain.tokens import has_control_characters

    assert not has_control_characters("ya29.a0Af-_~+/=Zq8vX2 with spaces é")


# --- what the provider says of the refresh token's lifetime ---------------------------------


@pytest.mark.parametrize(
    "member", ["refresh_token_expires_in", "refresh_expires_in", "x_refresh_token_expires_in"]
)
def test_the_refresh_token_lifetime_the_provider_sends_is_kept(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, member: str
) -> None:
    tokens = request_token(oauth, endpoint, token_json(refresh_token="rt-1", **{member: 7776000}))
    assert tokens.refresh_expires_at == NOW + timedelta(days=90)


def test_a_refresh_token_lifetime_without_a_refresh_token_says_nothing(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    tokens = request_token(oauth, endpoint, token_json(refresh_expires_in=1800))
    assert tokens.refresh_expires_at is None


def test_a_refresh_token_lifetime_that_is_not_a_number_is_an_invalid_response(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    error = refused(oauth, endpoint,
                    token_json(refresh_token="rt-1", refresh_token_expires_in="soon"))
    assert "refresh token lifetime" in error.message
