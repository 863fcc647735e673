"""The signing keys of workload issuers: fetched once and kept, fetched again for an unknown
key id at most once a minute, the last keys serving on while the issuer is down, and an
issuer that is down not asked on every request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from joserfc.jwk import RSAKey

from tokendesk.errors import WorkloadKeysUnavailable
from tokendesk.oauth.outbound import Outbound
from tokendesk.oauth.workload_keys import UNKNOWN_KID_REFETCH_S, WorkloadKeys

ISSUER = "https://issuer.example.test"


class Issuer:
    """Discovery and JWKS as a MockTransport; ``down`` answers 503."""

    def __init__(self) -> None:
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "one"})]
        self.down = False
        self.jwks_calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503)
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks"})
        self.jwks_calls += 1
        return httpx.Response(200, json={"keys": [
            k.as_dict(private=True) for k in self.keys]})  # private parts are left out


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(issuer: Issuer, clock: Clock) -> WorkloadKeys:
    return WorkloadKeys(Outbound(transport=httpx.MockTransport(issuer)), clock)


def test_keys_are_fetched_once_and_kept(keys: WorkloadKeys, issuer: Issuer) -> None:
    first, again = keys.key(ISSUER, "one"), keys.key(ISSUER, "one")

    assert first is not None and again is not None and issuer.jwks_calls == 1
    assert "d" not in first.as_dict(private=False) and not first.is_private


def test_an_unknown_kid_fetches_again_at_most_once_a_minute(
    keys: WorkloadKeys, issuer: Issuer, clock: Clock
) -> None:
    keys.key(ISSUER, "one")
    issuer.keys.append(RSAKey.generate_key(2048, parameters={"kid": "two"}))

    within_a_minute = keys.key(ISSUER, "two")
    clock.advance(UNKNOWN_KID_REFETCH_S)
    after_a_minute = keys.key(ISSUER, "two")

    assert within_a_minute is None and after_a_minute is not None
    assert issuer.jwks_calls == 2


def test_the_last_keys_serve_on_while_the_issuer_is_down(
    keys: WorkloadKeys, issuer: Issuer, clock: Clock
) -> None:
    keys.key(ISSUER, "one")
    issuer.down = True
    clock.advance(2 * 3600)  # past the hour the keys are kept

    assert keys.key(ISSUER, "one") is not None


def test_an_issuer_that_is_down_is_not_asked_on_every_request(
    keys: WorkloadKeys, issuer: Issuer, clock: Clock
) -> None:
    issuer.down = True
    with pytest.raises(WorkloadKeysUnavailable, match="HTTP 503"):
        keys.key(ISSUER, "one")
    issuer.down = False

    with pytest.raises(WorkloadKeysUnavailable, match="asks again after a minute"):
        keys.key(ISSUER, "one")
    clock.advance(UNKNOWN_KID_REFETCH_S)
    assert keys.key(ISSUER, "one") is not None
