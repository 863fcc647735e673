"""The sign-in limiter counts per (user, address) in the database: a guesser is stopped, the
real user at another address is not, every replica sees the same counts, and X-Forwarded-For
is believed only from TOKENDESK_TRUSTED_PROXIES."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from console_support import PASSWORD, PUBLIC_URL, Console
from fastapi.testclient import TestClient

from tokendesk.config import Settings
from tokendesk.domain.sign_in import (
    FAILURES_PER_USER,
    FAILURES_PER_USER_AND_ADDRESS,
    USER_BACKOFF_MAX_S,
    client_address,
    parse_trusted_proxies,
)
from tokendesk.services.sign_in import SignInLimits
from tokendesk.web.app import create_app
from tokendesk.wiring import Tokendesk, build

ATTACKER, ADMIN = "198.51.100.7", "192.0.2.10"
PROXY = "10.0.0.5"


@pytest.fixture
def at(td: Tokendesk) -> Iterator[Callable[..., Console]]:
    """A browser on ``td`` (or another replica) connecting from a given address."""
    clients: list[TestClient] = []

    def open_browser(address: str, replica: Tokendesk | None = None,
                     headers: dict[str, str] | None = None) -> Console:
        client = TestClient(create_app(replica or td), base_url=PUBLIC_URL,
                            client=(address, 40000), headers=headers)
        clients.append(client)
        return Console(client)

    yield open_browser
    for client in clients:
        client.close()


def fail_until_locked(console: Console) -> None:
    for _ in range(FAILURES_PER_USER_AND_ADDRESS):
        assert console.sign_in("admin", "guess").status_code == 401
    assert console.sign_in("admin", PASSWORD).status_code == 429


def test_a_guesser_locks_only_himself_not_the_administrator_at_another_address(
    at: Callable[..., Console],
) -> None:
    fail_until_locked(at(ATTACKER))

    assert at(ADMIN).sign_in("admin").status_code == 303
    assert at(ATTACKER).sign_in("admin").status_code == 429  # a new browser, same address


def test_a_second_replica_on_the_same_database_sees_the_failures(
    at: Callable[..., Console], settings: Settings,
) -> None:
    replica = build(settings)
    try:
        fail_until_locked(at(ATTACKER))

        on_replica = at(ATTACKER, replica).sign_in("admin")
        admin_on_replica = at(ADMIN, replica).sign_in("admin")
    finally:
        replica.close()
    assert on_replica.status_code == 429
    assert int(on_replica.headers["retry-after"]) > 0
    assert admin_on_replica.status_code == 303


def test_guessing_spread_over_many_addresses_meets_a_back_off_that_passes(
    td: Tokendesk,
) -> None:
    now = [td.clock()]
    limits = SignInLimits(td.transaction, lambda: now[0])
    for n in range(FAILURES_PER_USER):  # never five from one address
        limits.failed("admin", f"203.0.113.{n % 250}" if n < 250 else "x")
        now[0] += timedelta(milliseconds=10)
    assert limits.check("admin", "198.51.100.99") is not None  # from a new address too

    limits.failed("admin", "198.51.100.98")
    throttled = limits.check("admin", "198.51.100.99")
    assert throttled is not None and 1 <= throttled.retry_after_s <= 3  # doubled: 2 s
    now[0] += timedelta(seconds=USER_BACKOFF_MAX_S)
    assert limits.check("admin", "198.51.100.99") is None


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    settings: Settings, at: Callable[..., Console],
) -> None:
    behind_proxy = build(settings.model_copy(update={"trusted_proxies": "10.0.0.0/8"}))
    try:
        guesser = at(PROXY, behind_proxy, {"X-Forwarded-For": f"1.2.3.4, {ATTACKER}"})
        fail_until_locked(guesser)
        admin = at(PROXY, behind_proxy, {"X-Forwarded-For": ADMIN}).sign_in("admin")
        # Not trusted: the header is ignored, so a guesser cannot escape by varying it.
        spoofer = [at(ATTACKER, behind_proxy, {"X-Forwarded-For": f"203.0.113.{n}"})
                   for n in range(FAILURES_PER_USER_AND_ADDRESS + 1)]
        spoofed = [console.sign_in("admin", "guess").status_code for console in spoofer]
    finally:
        behind_proxy.close()
    assert admin.status_code == 303
    assert spoofed[-1] == 429


@pytest.mark.parametrize(
    ("peer", "forwarded", "seen"),
    [
        (ATTACKER, ["203.0.113.1"], ATTACKER),  # untrusted peer: header ignored
        (PROXY, ["203.0.113.1"], "203.0.113.1"),
        (PROXY, ["6.6.6.6, 203.0.113.1"], "203.0.113.1"),  # left of the last hop: a claim
        (PROXY, ["203.0.113.1, 10.0.0.9"], "203.0.113.1"),  # two trusted proxies
        (PROXY, ["203.0.113.1", "10.0.0.9"], "203.0.113.1"),  # two headers
        (PROXY, ["not-an-address"], PROXY),
        (PROXY, [], PROXY),
        ("testclient", ["203.0.113.1"], "testclient"),
    ],
)
def test_the_client_address_comes_from_the_chain_only_through_trusted_proxies(
    peer: str, forwarded: list[str], seen: str
) -> None:
    assert client_address(peer, forwarded, parse_trusted_proxies("10.0.0.0/8")) == seen


def test_a_bad_trusted_proxies_setting_refuses_to_start() -> None:
    from tokendesk.config import load_settings
    from tokendesk.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="TOKENDESK_TRUSTED_PROXIES"):
        load_settings(trusted_proxies="10.0.0.0/8, proxy.corp")


def test_old_failures_are_forgotten_after_their_window(td: Tokendesk) -> None:
    now = [datetime.now(td.clock().tzinfo)]
    limits = SignInLimits(td.transaction, lambda: now[0])
    for _ in range(FAILURES_PER_USER_AND_ADDRESS):
        limits.failed("admin", ATTACKER)
    assert limits.check("admin", ATTACKER) is not None

    now[0] += timedelta(minutes=16)
    limits.failed("admin", ATTACKER)  # counts from one again
    assert limits.check("admin", ATTACKER) is None
