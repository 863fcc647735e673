"""The API proxy's forwarding rules (issue 16): headers each way, paths, the audited path and
the per-connection rate limit."""

from __future__ import annotations

import pytest

from tokendesk.domain.forwarding import (
    RateLimiter,
    audited_path,
    checked_path,
    request_headers,
    response_headers,
)
from tokendesk.errors import ValidationError


def names(headers: list[tuple[bytes, bytes]]) -> list[str]:
    return [name.decode().lower() for name, _ in headers]


def test_the_callers_credentials_and_hop_by_hop_headers_stay_behind() -> None:
    given = [(b"Authorization", b"Bearer td_key"), (b"Cookie", b"s=1"),
             (b"Proxy-Authorization", b"Basic x"), (b"Connection", b"keep-alive, Accept-Language"),
             (b"Accept-Language", b"fr"), (b"Transfer-Encoding", b"chunked"),
             (b"Accept", b"application/json"), (b"If-None-Match", b'"v1"'),
             (b"X-Anything", b"1"), (b"Host", b"desk.example.test")]

    assert names(request_headers(given)) == ["accept", "if-none-match"]


def test_only_the_apis_descriptive_headers_come_back_and_never_a_cookie() -> None:
    given = [(b"Content-Type", b"application/json"), (b"Set-Cookie", b"s=1"),
             (b"X-RateLimit-Remaining", b"9"), (b"Keep-Alive", b"timeout=5"),
             (b"Location", b"/next"), (b"Server", b"api/1.0"), (b"Link", b"<a>; rel=next"),
             (b"Link", b"<b>; rel=last")]

    assert names(response_headers(given)) == [
        "content-type", "x-ratelimit-remaining", "location", "link", "link"]


@pytest.mark.parametrize("path", ["..", "a/../b", "a/%2e%2e/b", "%2E%2E", "./a", "a\\b"])
def test_a_path_that_climbs_out_of_the_api_base_url_is_refused(path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        checked_path(path)
    assert caught.value.field == "path"


def test_an_ordinary_path_passes_as_given() -> None:
    assert checked_path("v1/items/a%2Fb/..x") == "v1/items/a%2Fb/..x"


def test_the_audited_path_keeps_query_names_but_not_values() -> None:
    assert audited_path("v1/users", "email=a%40b.example&page=2&page=3") == "/v1/users?email=&page="
    assert audited_path("/v1/users", "") == "/v1/users"


def test_the_rate_limit_lets_a_minutes_calls_through_then_says_when_to_come_back() -> None:
    limiter = RateLimiter(per_minute=2)

    first, second, third = (limiter.take("c1", 100.0) for _ in range(3))
    other = limiter.take("c2", 100.0)
    later = limiter.take("c1", 130.0)  # half a minute: one call's worth refilled

    assert (first, second, other, later) == (0.0, 0.0, 0.0, 0.0)
    assert third == 30.0
