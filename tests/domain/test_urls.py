"""Provider URLs an administrator types: what is accepted unchanged, what is refused and why."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tokendesk.domain.urls import (
    ALLOW_HTTP_LOOPBACK_SETTING,
    RESERVED_AUTHORIZATION_PARAMS,
    field_label,
    find_placeholders,
    is_loopback_host,
    validate_authorization_url,
    validate_endpoint_url,
)
from tokendesk.errors import ValidationError

label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,12}[a-z0-9])?", fullmatch=True)
top_level = st.from_regex(r"[a-z]{2,8}", fullmatch=True)
host = st.builds(
    lambda labels, tld: ".".join([*labels, tld]), st.lists(label, min_size=1, max_size=4), top_level
)
segment = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@",
    max_size=12,
)
path = st.lists(segment, max_size=5).map(lambda parts: "".join("/" + part for part in parts))
query_word = st.from_regex(r"[A-Za-z0-9_.~-]{1,10}", fullmatch=True)
query = st.lists(st.tuples(query_word, query_word), max_size=3).map(
    lambda pairs: "?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else ""
)
port = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
https_url = st.builds(lambda h, p, pa, q: f"https://{h}{p}{pa}{q}", host, port, path, query)
control_char = st.one_of(st.characters(max_codepoint=0x1F), st.just("\x7f"))


@pytest.mark.parametrize(
    "url",
    [
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        "https://accounts.google.com/o/oauth2/auth?prompt=consent&access_type=offline",
        "https://acme.my.salesforce.com/services/oauth2/token",
        "https://192.0.2.10/token",
        "https://[2001:db8::1]:8443/token",
        "https://auth.example.com:8443/oauth/token?p=b2c_1_signin",
        "https://auth.example.com./oauth/token",
        "https://auth.example.com/path%20with%2Fescapes",
    ],
)
def test_a_valid_https_url_is_accepted_unchanged(url: str) -> None:
    assert validate_endpoint_url(url, field="token_url") == url


def test_surrounding_whitespace_is_removed() -> None:
    typed = "  https://auth.example.com/token\n"
    assert validate_endpoint_url(typed, field="token_url") == "https://auth.example.com/token"


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("", "Enter the token URL"),
        ("   ", "Enter the token URL"),
        ("auth.example.com/token", "starting with https://"),
        ("localhost:8080/token", "starting with https://"),
        ("/oauth/token", "starting with https://"),
        ("ftp://auth.example.com/token", "must start with https://"),
        ("javascript:alert(1)", "starting with https://"),
        ("https://auth.example.com/token#top", "fragment"),
        ("https://auth.example.com/token#", "fragment"),
        ("https://user:pass@auth.example.com/token", "user name or password"),
        ("https://user@auth.example.com/token", "user name or password"),
        ("https://<yourinstance>.salesforce.com/token", "Replace <yourinstance>"),
        ("https://login.microsoftonline.com/<tenant>/x", "Replace <tenant>"),
        ("https://auth.example.com/a b", "space"),
        ("https://auth.example.com/a\tb", "control character"),
        ("https://münchen.example/token", "non-ASCII"),
        ("https://evil.example\\@good.example/", "'\\\\'"),
        ("https://auth.example.com/{x}", "'{'"),
        ("https://auth.example.com/[x]", "'['"),
        ("https://auth.example.com/%zz", "'%'"),
        ("https:///token", "no host"),
        ("https://:443/token", "no host"),
        ("https://auth..example.com/", "invalid host name"),
        ("https://-auth.example.com/", "invalid host name"),
        ("https://auth.example.com:0/", "port"),
        ("https://auth.example.com:99999/", "port"),
        ("https://auth.example.com:+80/", "port"),
        ("https://auth.example.com:http/", "port"),
        ("https://127.1/token", "not a valid IPv4"),
        ("https://0x7f.0.0.1/token", "not a valid IPv4"),
        ("https://1.2.3.4.5/token", "not a valid IPv4"),
        ("https://010.0.0.1/token", "not a valid IPv4"),
        ("https://[::1]x/token", "invalid host or port"),
        ("https://[fe80::1%25eth0]/token", "not a valid IPv6"),
        ("https://[v1.fe]/token", "IPv6"),
        ("https://" + "a" * 2050 + ".com/", "limit is 2048"),
    ],
)
def test_an_unacceptable_url_is_refused_with_a_reason(url: str, said: str) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_endpoint_url(url, field="token_url", allow_http_loopback=True)
    assert refused.value.field == "token_url"
    assert said in refused.value.message


def test_the_length_limit_can_be_lowered() -> None:
    with pytest.raises(ValidationError, match="limit is 20"):
        validate_endpoint_url("https://auth.example.com/token", field="x", max_length=20)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/token",
        "http://127.10.20.30/token",
        "http://localhost/token",
        "http://LOCALHOST:9000/token",
        "http://[::1]:9000/token",
    ],
)
def test_plain_http_on_loopback_is_accepted_only_with_the_setting(url: str) -> None:
    assert validate_endpoint_url(url, field="token_url", allow_http_loopback=True) == url
    with pytest.raises(ValidationError) as refused:
        validate_endpoint_url(url, field="token_url")
    assert ALLOW_HTTP_LOOPBACK_SETTING in refused.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://192.168.1.5:8080/token",
        "http://auth.example.com/token",
        "http://localhost.example.com/token",
        "http://[::ffff:127.0.0.1]/token",
    ],
)
def test_plain_http_elsewhere_is_refused_even_with_the_setting(url: str) -> None:
    with pytest.raises(ValidationError, match="must use https") as refused:
        validate_endpoint_url(url, field="token_url", allow_http_loopback=True)
    assert "loopback" in refused.value.message


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("10.0.0.1", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_loopback_hosts_are_recognised(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_an_authorization_url_keeps_its_own_query_parameters() -> None:
    url = "https://accounts.google.com/o/oauth2/auth?prompt=consent&access_type=offline"
    assert validate_authorization_url(url) == url


@pytest.mark.parametrize("param", sorted(RESERVED_AUTHORIZATION_PARAMS))
def test_an_authorization_url_may_not_set_what_tokendesk_sets(param: str) -> None:
    with pytest.raises(ValidationError, match="Tokendesk sets these itself") as refused:
        validate_authorization_url(f"https://auth.example.com/authorize?prompt=login&{param}=x")
    assert refused.value.field == "authorization_url"
    assert param in refused.value.message


@pytest.mark.parametrize("query", ["Client_ID=x", "client%5Fid=x", "state=", "redirect_uri"])
def test_reserved_parameters_are_found_however_they_are_spelled(query: str) -> None:
    with pytest.raises(ValidationError, match="Tokendesk sets these itself"):
        validate_authorization_url(f"https://auth.example.com/authorize?{query}")


def test_an_authorization_url_is_checked_like_any_endpoint() -> None:
    with pytest.raises(ValidationError, match=ALLOW_HTTP_LOOPBACK_SETTING):
        validate_authorization_url("http://127.0.0.1/authorize")
    url = "http://127.0.0.1/authorize"
    assert validate_authorization_url(url, allow_http_loopback=True) == url


def test_placeholders_are_found_in_order_once() -> None:
    text = "https://<tenant>.example/<tenant-id>/<tenant>/<domain-name>"
    assert find_placeholders(text) == ("tenant", "tenant-id", "domain-name")
    assert find_placeholders("https://auth.example.com/a<b") == ()


def test_field_names_read_as_words() -> None:
    assert field_label("token_url") == "token URL"
    assert field_label("client_id") == "client ID"
    assert field_label("authorization_url") == "authorization URL"


@given(https_url)
def test_any_https_url_of_a_valid_host_and_path_is_accepted_unchanged(url: str) -> None:
    assert validate_endpoint_url(url, field="token_url") == url


@given(https_url)
def test_any_such_url_without_reserved_parameters_is_a_valid_authorization_url(url: str) -> None:
    assume("?" not in url)
    assert validate_authorization_url(url + "?prompt=consent") == url + "?prompt=consent"


@given(https_url, control_char, st.data())
def test_any_url_with_a_control_character_inside_is_refused(
    url: str, char: str, data: st.DataObject
) -> None:
    at = data.draw(st.integers(1, len(url) - 1))
    with pytest.raises(ValidationError, match="control character"):
        validate_endpoint_url(url[:at] + char + url[at:], field="token_url")


@given(https_url, st.text(max_size=20))
def test_any_url_with_a_fragment_is_refused(url: str, fragment: str) -> None:
    with pytest.raises(ValidationError):
        validate_endpoint_url(f"{url}#{fragment}", field="token_url")


@given(st.text(), st.booleans())
def test_any_text_is_either_a_url_or_a_validation_error(text: str, loopback: bool) -> None:
    for validate in (validate_endpoint_url, validate_authorization_url):
        try:
            accepted = validate(text, field="url", allow_http_loopback=loopback)
        except ValidationError as refused:
            assert refused.field == "url"
            assert refused.message
        else:
            assert accepted == text.strip()
            assert accepted.startswith(("https://", "http://"))


@given(st.from_regex(r"[a-z]{1,8}://[^\s#]{0,30}", fullmatch=True))
def test_url_like_text_is_either_a_url_or_a_validation_error(text: str) -> None:
    try:
        accepted = validate_endpoint_url(text, field="url", allow_http_loopback=True)
    except ValidationError as refused:
        assert refused.field == "url"
    else:
        assert accepted.startswith(("https://", "http://"))
