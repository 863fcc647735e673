"""What Tokendesk sends to authorization servers: client authentication (RFC 6749 §2.3.1),
the grant requests (§4.1.3, §4.4, §6), revocation (RFC 7009) and the authorization URL
(§4.1.1 with PKCE, RFC 7636)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, parse_qsl, quote_plus, urlsplit

import httpx
import pytest
from oauth_fakes import (
    AUTHORIZATION_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    REVOCATION_URL,
    TOKEN_URL,
    FakeTokenEndpoint,
    client_spec,
    oauth_error,
    token_json,
)

from tokendesk.domain.secret import Secret
from tokendesk.errors import InvalidProviderResponse, ProviderUnavailable
from tokendesk.oauth.client import OAuthClient, authorization_url, s256_code_challenge

CALLBACK = "https://desk.example.com/oauth/callback"
STATE = "state-0123456789abcdef"
# RFC 7636 Appendix B: the verifier is base64url of these 32 octets.
RFC7636_OCTETS = bytes([116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187,
                        186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141,
                        121])
RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


# --- client authentication (RFC 6749 §2.3.1) -----------------------------------------------------


def test_client_secret_basic_sends_the_form_urlencoded_id_and_secret_in_the_header(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    client_id, secret = "bot client:1", "p:a+s%s w/rd"
    spec = client_spec(client_id=client_id, client_secret=Secret(secret),
                       client_auth_method="client_secret_basic")
    oauth.client_credentials(spec)
    expected = base64.b64encode(b"bot+client%3A1:p%3Aa%2Bs%25s+w%2Frd").decode()
    assert endpoint.last.headers["authorization"] == f"Basic {expected}"
    assert expected == base64.b64encode(
        f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()).decode()
    assert "client_secret" not in endpoint.form()
    assert secret not in endpoint.last.content.decode()


def test_client_secret_post_sends_id_and_secret_in_the_form_and_no_authorization_header(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    secret = "p:a+s%s w/rd"
    oauth.client_credentials(client_spec(client_secret=Secret(secret),
                                         client_auth_method="client_secret_post"))
    form = endpoint.form()
    assert form["client_id"] == CLIENT_ID
    assert form["client_secret"] == secret
    assert "authorization" not in endpoint.last.headers


def test_a_client_without_a_secret_sends_only_its_id(oauth: OAuthClient,
                                                     endpoint: FakeTokenEndpoint) -> None:
    oauth.client_credentials(client_spec(client_secret=None))
    assert endpoint.form()["client_id"] == CLIENT_ID
    assert "client_secret" not in endpoint.form()
    assert "authorization" not in endpoint.last.headers


def test_requests_are_form_posts_that_ask_for_json(oauth: OAuthClient,
                                                   endpoint: FakeTokenEndpoint) -> None:
    oauth.client_credentials(client_spec())
    request = endpoint.last
    assert request.method == "POST"
    assert str(request.url) == TOKEN_URL
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("Tokendesk/")


# --- grants ---------------------------------------------------------------------------------------


def test_refresh_sends_the_refresh_token_grant(oauth: OAuthClient,
                                               endpoint: FakeTokenEndpoint) -> None:
    oauth.refresh(client_spec(), Secret("rt-old"))
    form = endpoint.form()
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == "rt-old"


def test_refresh_sends_no_scope_unless_the_provider_wants_it(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    scopes = ("offline_access", "https://graph.microsoft.com/.default")
    oauth.refresh(client_spec(scopes=scopes), Secret("rt-old"))
    plain = endpoint.form()
    oauth.refresh(client_spec(scopes=scopes, refresh_scope=True), Secret("rt-old"))
    microsoft = endpoint.form()

    assert "scope" not in plain  # RFC 6749 §6: omitted means the scopes of the grant
    assert microsoft["scope"] == "offline_access https://graph.microsoft.com/.default"


def test_a_refresh_answer_without_a_refresh_token_keeps_the_old_one(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    old = Secret("rt-old")
    endpoint.answer(token_json(access_token="at-2"))
    tokens = oauth.refresh(client_spec(), old)
    assert tokens.refresh_token == old
    assert tokens.refresh_token is not None and tokens.refresh_token.reveal() == "rt-old"
    assert tokens.access_token == Secret("at-2")


def test_a_refresh_answer_with_a_refresh_token_returns_the_new_one(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(token_json(access_token="at-2", refresh_token="rt-new"))
    tokens = oauth.refresh(client_spec(), Secret("rt-old"))
    assert tokens.refresh_token == Secret("rt-new")


@pytest.mark.parametrize(("separator", "sent"), [(" ", "api read:all"), (",", "api,read:all")])
def test_client_credentials_sends_the_scopes_joined_by_the_providers_separator(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, separator: str, sent: str
) -> None:
    oauth.client_credentials(client_spec(scopes=("api", "read:all"), scope_separator=separator))
    assert endpoint.form()["grant_type"] == "client_credentials"
    assert endpoint.form()["scope"] == sent


def test_client_credentials_without_scopes_sends_no_scope(oauth: OAuthClient,
                                                          endpoint: FakeTokenEndpoint) -> None:
    oauth.client_credentials(client_spec(scopes=()))
    assert "scope" not in endpoint.form()


def test_exchange_code_sends_the_code_the_redirect_uri_and_the_verifier(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    oauth.exchange_code(client_spec(), code=Secret("code-1"), redirect_uri=CALLBACK,
                        code_verifier=Secret(RFC7636_VERIFIER))
    assert endpoint.form() == {"grant_type": "authorization_code", "code": "code-1",
                               "redirect_uri": CALLBACK, "code_verifier": RFC7636_VERIFIER}


def test_exchange_code_without_pkce_sends_no_verifier(oauth: OAuthClient,
                                                      endpoint: FakeTokenEndpoint) -> None:
    oauth.exchange_code(client_spec(), code=Secret("code-1"), redirect_uri=CALLBACK,
                        code_verifier=None)
    assert "code_verifier" not in endpoint.form()


def test_a_redirect_from_the_token_endpoint_is_not_followed(oauth: OAuthClient,
                                                           endpoint: FakeTokenEndpoint) -> None:
    elsewhere = "https://attacker.example.net/collect"
    endpoint.answer(httpx.Response(302, headers={"location": elsewhere}), token_json())
    with pytest.raises(InvalidProviderResponse) as caught:
        oauth.refresh(client_spec(client_auth_method="client_secret_post"), Secret("rt-old"))
    assert [str(r.url) for r in endpoint.requests] == [TOKEN_URL]
    assert "redirect" in caught.value.message
    assert "attacker.example.net" in caught.value.message
    assert "/collect" not in caught.value.message


@pytest.mark.parametrize("status", [301, 307, 308])
def test_no_redirect_is_followed_whatever_its_status(oauth: OAuthClient,
                                                     endpoint: FakeTokenEndpoint,
                                                     status: int) -> None:
    endpoint.answer(httpx.Response(status, headers={"location": TOKEN_URL + "/v2"}))
    with pytest.raises(InvalidProviderResponse):
        oauth.client_credentials(client_spec())
    assert len(endpoint.requests) == 1


# --- revocation (RFC 7009) ---------------------------------------------------------------------


@pytest.mark.parametrize("hint", ["refresh_token", "access_token"])
def test_revoke_posts_the_token_and_its_type_hint_to_the_revocation_url(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, hint: str
) -> None:
    endpoint.answer(httpx.Response(200))
    oauth.revoke(client_spec(client_auth_method="client_secret_post"), Secret("tok-1"), hint)
    assert str(endpoint.last.url) == REVOCATION_URL
    assert endpoint.form() == {"token": "tok-1", "token_type_hint": hint,
                               "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def test_revoke_authenticates_the_client_like_the_token_request(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(httpx.Response(200))
    oauth.revoke(client_spec(client_auth_method="client_secret_basic"), Secret("tok-1"),
                 "refresh_token")
    assert endpoint.last.headers["authorization"].startswith("Basic ")
    assert "client_secret" not in endpoint.form()


def test_revoke_does_nothing_without_a_revocation_url(oauth: OAuthClient,
                                                     endpoint: FakeTokenEndpoint) -> None:
    oauth.revoke(client_spec(revocation_url=None), Secret("tok-1"), "refresh_token")
    oauth.revoke(client_spec(revocation_url=""), Secret("tok-1"), "refresh_token")
    assert endpoint.requests == []


def test_revoke_accepts_any_success_status(oauth: OAuthClient,
                                           endpoint: FakeTokenEndpoint) -> None:
    endpoint.answer(httpx.Response(204))
    oauth.revoke(client_spec(), Secret("tok-1"), "access_token")


def test_a_revocation_endpoint_that_is_down_is_a_transient_error(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(httpx.Response(503, headers={"retry-after": "30"}))
    with pytest.raises(ProviderUnavailable) as caught:
        oauth.revoke(client_spec(), Secret("tok-1"), "refresh_token")
    assert caught.value.transient
    assert caught.value.retry_after_s == 30.0


def test_a_revocation_error_does_not_show_the_token(oauth: OAuthClient,
                                                    endpoint: FakeTokenEndpoint) -> None:
    endpoint.answer(oauth_error(400, "unsupported_token_type", "cannot revoke tok-secret-1"))
    with pytest.raises(Exception) as caught:
        oauth.revoke(client_spec(), Secret("tok-secret-1"), "access_token")
    assert "tok-secret-1" not in str(caught.value)


# A secret whose encoded forms differ from it: form-encoding turns ' ' into '+', '/' into %2F.
ODD_SECRET = "s3/cr+t w=="


def echo_every_encoding(request: httpx.Request) -> httpx.Response:
    """A hostile token endpoint: the credentials it got, back in its error, every way."""
    basic = request.headers.get("authorization", "").removeprefix("Basic ")
    pair = base64.b64decode(basic).decode() if basic else ""
    plain = base64.b64encode(f"{CLIENT_ID}:{ODD_SECRET}".encode()).decode()
    sent = dict(parse_qsl(request.content.decode())).get("client_secret", "")
    echoes = [basic, basic.rstrip("="), base64.urlsafe_b64encode(pair.encode()).decode(), pair,
              plain, plain.rstrip("="), request.headers.get("authorization", ""), sent,
              quote_plus(ODD_SECRET), quote_plus(ODD_SECRET).lower()]
    return oauth_error(401, basic or "invalid_client", "you sent " + " | ".join(echoes))


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_provider_echoing_the_credentials_in_any_encoding_gets_them_masked(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, method: str
) -> None:
    endpoint.answer(echo_every_encoding)
    spec = client_spec(client_secret=Secret(ODD_SECRET), client_auth_method=method)

    with pytest.raises(Exception) as caught:
        oauth.client_credentials(spec)

    message = str(caught.value)
    assert "you sent" in message
    basic = base64.b64encode(f"{quote_plus(CLIENT_ID)}:{quote_plus(ODD_SECRET)}".encode())
    for form in (ODD_SECRET, quote_plus(ODD_SECRET), quote_plus(ODD_SECRET).lower(),
                 basic.decode(), basic.decode().rstrip("="),
                 base64.b64encode(f"{CLIENT_ID}:{ODD_SECRET}".encode()).decode().rstrip("=")):
        assert form not in message


# --- the authorization URL (RFC 6749 §4.1.1, RFC 7636 §4.3) ------------------------------------


def query_pairs(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def test_the_s256_challenge_is_the_one_of_rfc_7636_appendix_b() -> None:
    assert base64.urlsafe_b64encode(RFC7636_OCTETS).rstrip(b"=").decode() == RFC7636_VERIFIER
    assert s256_code_challenge(RFC7636_VERIFIER) == RFC7636_CHALLENGE


def test_the_authorization_url_keeps_the_admins_query_string_and_adds_the_request() -> None:
    google = "https://accounts.google.com/o/oauth2/auth?prompt=consent&access_type=offline"
    spec = client_spec(authorization_url=google, scopes=("openid", "email"))
    url = authorization_url(spec, redirect_uri=CALLBACK, state=STATE,
                            code_verifier=RFC7636_VERIFIER)
    assert url.startswith(google + "&")
    assert dict(query_pairs(url)) == {
        "prompt": "consent", "access_type": "offline", "response_type": "code",
        "client_id": CLIENT_ID, "redirect_uri": CALLBACK, "scope": "openid email",
        "state": STATE, "code_challenge": RFC7636_CHALLENGE, "code_challenge_method": "S256",
    }
    assert len(query_pairs(url)) == 9


def test_the_authorization_url_has_no_challenge_without_a_verifier() -> None:
    url = authorization_url(client_spec(), redirect_uri=CALLBACK, state=STATE,
                            code_verifier=None)
    names = [name for name, _ in query_pairs(url)]
    assert "code_challenge" not in names
    assert "code_challenge_method" not in names
    assert "scope" not in names  # no scopes configured, none sent


def test_provider_authorization_params_are_added_but_a_value_in_the_url_wins() -> None:
    spec = client_spec(
        authorization_url=AUTHORIZATION_URL + "?prompt=consent",
        authorization_params=(("prompt", "select_account"), ("access_type", "offline")),
    )
    url = authorization_url(spec, redirect_uri=CALLBACK, state=STATE, code_verifier=None)
    pairs = query_pairs(url)
    assert parse_qs(urlsplit(url).query)["prompt"] == ["consent"]
    assert ("access_type", "offline") in pairs
    assert len([name for name, _ in pairs]) == len({name for name, _ in pairs})


def test_the_google_catalog_params_are_not_duplicated_when_the_url_already_has_them() -> None:
    spec = client_spec(
        authorization_url="https://accounts.google.com/o/oauth2/auth?prompt=consent"
                          "&access_type=offline",
        authorization_params=(("access_type", "offline"), ("prompt", "consent")),
    )
    url = authorization_url(spec, redirect_uri=CALLBACK, state=STATE, code_verifier=None)
    names = [name for name, _ in query_pairs(url)]
    assert names.count("prompt") == 1
    assert names.count("access_type") == 1


def test_the_flows_own_parameters_always_win_over_a_copy_in_the_url() -> None:
    typed = AUTHORIZATION_URL + "?state=attacker&redirect_uri=https%3A%2F%2Fevil&audience=api"
    spec = client_spec(authorization_url=typed,
                       authorization_params=(("state", "x"), ("client_id", "other")))
    url = authorization_url(spec, redirect_uri=CALLBACK, state=STATE, code_verifier=None)
    values = parse_qs(urlsplit(url).query)
    assert values["state"] == [STATE]
    assert values["redirect_uri"] == [CALLBACK]
    assert values["client_id"] == [CLIENT_ID]
    assert values["audience"] == ["api"]


def test_the_authorization_url_encodes_what_it_adds() -> None:
    spec = client_spec(scopes=("https://www.googleapis.com/auth/calendar", "a&b=c"),
                       authorization_url=AUTHORIZATION_URL + "?tenant=a%20b")
    url = authorization_url(spec, redirect_uri=CALLBACK + "?x=1&y=2", state=STATE,
                            code_verifier=None)
    values = parse_qs(urlsplit(url).query)
    assert values["scope"] == ["https://www.googleapis.com/auth/calendar a&b=c"]
    assert values["redirect_uri"] == [CALLBACK + "?x=1&y=2"]
    assert "tenant=a%20b" in url  # kept exactly as typed
