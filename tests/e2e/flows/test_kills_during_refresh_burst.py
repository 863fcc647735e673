"""``tokendesk serve`` killed (SIGKILL) at random moments while it refreshes many tokens on
PostgreSQL: afterwards every token decrypts and is either fresh and accepted by the
authorization server, or clearly "needs re-authentication" with an audit event -- never
corrupted, never half-written, never held by a lease for good.

The kill moments come from a seeded random generator (``TOKENDESK_TEST_KILL_SEED`` to
replay another run); every wait is bounded.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from support.authorization_server import fingerprint
from support.bots import BotThreads
from support.desk import Desk
from support.processes import ServeProcess, replica_env
from tokendesk.errors import DecryptionError
from tokendesk.storage.tables import connections, tokens
from tokendesk.tokens.vault import TokenVault

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

SEED = int(os.environ.get("TOKENDESK_TEST_KILL_SEED", "20261128"))
TOKENS = 12
ACCESS_TOKEN_TTL_S = 4  # due for refresh after 2 s: a refresh every few tenths of a second
PROVIDER_DELAY_MS = 100  # each refresh is in flight a while, so kills find some mid-call
PROVIDER_TIMEOUT_S = 3  # the lease of a killed process runs out 13 s after it was taken
LEASE_S = PROVIDER_TIMEOUT_S + 10
KILLS = 6
KILL_AFTER_S = (0.3, 2.5)  # after the process answers its first health check
IN_FLIGHT_TIMEOUT_S = 3.0  # how long a kill waits for a refresh to be in flight
BOTS = 6
REQUEST_TIMEOUT_S = 5.0
SETTLE_TIMEOUT_S = 60.0
CLIENT = "code-basic"


class Bots(BotThreads[tuple[int | None, Any]]):
    """Threads asking the serve process of the moment for random tokens until stopped."""

    def __init__(self, key: str, names: list[str]) -> None:
        super().__init__(BOTS, join_timeout_s=REQUEST_TIMEOUT_S + 5)
        self.key, self.names = key, names
        self.url: str | None = None

    def run(self, index: int) -> None:
        rng = random.Random(SEED + index)
        with httpx.Client(timeout=REQUEST_TIMEOUT_S, trust_env=False,
                          headers={"Authorization": self.key}) as http:
            while not self.stopping:
                url = self.url
                if url is None:  # between a kill and the next start
                    time.sleep(0.05)
                    continue
                name = rng.choice(self.names)
                try:
                    response = http.get(f"{url}/api/v1/connections/{name}/token")
                except httpx.HTTPError:  # killed mid-request
                    self.keep((None, None))
                else:
                    self.keep((response.status_code, _json(response)))


def test_kills_at_random_moments_of_a_refresh_burst_leave_no_token_broken(
    desk: Desk, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    desk.oauth.update_settings(access_token_ttl_s=ACCESS_TOKEN_TTL_S)
    names = [f"Mailbox {i:02}" for i in range(TOKENS)]
    for i, name in enumerate(names):
        desk.create_connection(name, CLIENT)
        link = desk.admin.post(f"/connections/{name}/test", json={"save_credentials": True})
        desk.consent(link.json()["authorize_url"], user=f"user{i}")  # a grant of its own
    desk.oauth.inject_fault(grant_type="refresh_token", delay_ms=PROVIDER_DELAY_MS, count=100_000)
    env = replica_env(desk.server.settings, tmp_path / "serve-data",
                      TOKENDESK_PROVIDER_TIMEOUT_S=str(PROVIDER_TIMEOUT_S),
                      TOKENDESK_BACKGROUND_REFRESH="true", TOKENDESK_LOG_LEVEL="WARNING")
    key = str(desk.bot.headers["authorization"])
    started: list[float] = []  # wall-clock start of each process, to place provider calls
    killed_at, mid_call = 0.0, 0

    with Bots(key, names) as bots:
        for kill in range(KILLS):
            started.append(time.time())
            serve = ServeProcess(env, tmp_path / f"serve-{kill}.log").start()
            try:
                bots.url = serve.url
                time.sleep(rng.uniform(*KILL_AFTER_S))
                if kill % 2:  # every other kill waits for a refresh the provider is answering
                    mid_call += _wait_for_a_refresh_in_flight(desk)
            finally:
                assert serve.process is not None
                serve.process.kill()
                bots.url = None
            assert serve.process.wait(timeout=10) == -9
            killed_at = time.time()
    desk.oauth.clear_faults()
    desk.oauth.update_settings(access_token_ttl_s=3600)  # what is checked below stays fresh
    burst = desk.oauth.requests("token")

    # A killed process's lease runs out on its own: none reaches past its lease time.
    with desk.server.td.transaction(read_only=True) as tx:
        leases = tx.execute(select(tokens.c.lease_until)).scalars().all()
    assert all(u is None or u.timestamp() <= killed_at + LEASE_S + 1 for u in leases), leases

    started.append(time.time())
    final = ServeProcess(env, tmp_path / "final.log").start()
    try:
        with httpx.Client(base_url=final.url + "/api/v1", timeout=LEASE_S + 30,
                          trust_env=False, headers={"Authorization": key}) as bot:
            settled = {name: _settle(desk, bot, name) for name in names}
            handed_out = {name: bot.get(f"/connections/{name}/token") for name in names}
    finally:
        final.stop()

    calls = desk.oauth.requests("token")
    figures = _figures(bots.answers, burst, settled)
    assert sum(1 for r in burst if r["grant_type"] == "refresh_token") >= KILLS, figures
    for status, body in bots.answers:  # during the burst: a token, or a clear error
        if status is not None and status != 200:
            assert status != 500 and set(body["error"]) >= {"code", "message"}, (status, body)
    issued = {r["issued_access_token_sha256"]: r for r in calls if r["status"] == 200}
    for status, body in bots.answers:  # nothing handed out that the provider did not issue
        if status == 200:
            assert fingerprint(body["access_token"]) in issued, figures

    rows = _rows(desk)
    vault = TokenVault(desk.server.td.keyring)
    for name in names:
        row = rows[name]
        try:
            access, refresh = vault.access_token(row).reveal(), vault.refresh_token(row)
        except DecryptionError:
            pytest.fail(f"{name}: a stored token does not decrypt ({figures})")
        assert refresh is not None, name
        assert row.lease_until is None or row.lease_until < datetime.now(UTC), name
        # Never half-written: the access and refresh token came in one and the same answer.
        answer = issued.get(fingerprint(access))
        assert answer is not None, f"{name}: the stored access token was never issued"
        assert answer["issued_refresh_token_sha256"] == fingerprint(refresh.reveal()), \
            f"{name}: access and refresh token of different answers ({figures})"
        presented = [r for r in calls if r["refresh_token_sha256"] == fingerprint(refresh.reveal())]
        if row.status == "valid":
            assert settled[name] == 200 and handed_out[name].status_code == 200, name
            assert handed_out[name].json()["access_token"] == access
            assert presented == []  # the newest refresh token of its grant, unused
            assert _introspect(desk, access)["active"] is True, name
        else:
            assert row.status == "needs_reauthentication", (name, row.status, figures)
            assert settled[name] == 409, name
            error = handed_out[name].json()["error"]
            assert error["code"] == "reauthentication_required", error
            assert error["authenticate_url"].endswith("/connections/" + name.replace(" ", "%20"))
            # The rotation it lost to a kill: its old refresh token, presented again, refused.
            assert [r["error"] for r in presented][-1:] == ["invalid_grant"], (name, presented)
            events = desk.admin.get("/audit", params={"action": "token.refresh",
                                                      "connection": name}).json()
            assert "failure" in [e["outcome"] for e in events], (name, events)
    _assert_no_retry_loop(calls, started)
    # The run saw both outcomes: the kills in mid-call lost rotations for good.
    assert mid_call >= 1 and 409 in settled.values() and 200 in settled.values(), figures


def _wait_for_a_refresh_in_flight(desk: Desk) -> int:
    """Wait (boundedly) until the provider has a refresh request it has not answered yet;
    1 when it has, 0 when none came."""
    deadline = time.monotonic() + IN_FLIGHT_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(r["status"] is None and r["grant_type"] == "refresh_token"
               for r in desk.oauth.requests("token")):
            return 1
        time.sleep(0.005)
    return 0


def _settle(desk: Desk, bot: httpx.Client, name: str) -> int:
    """Refresh ``name`` now, through the restarted process, until it says something final:
    200 (refreshed) or 409 (needs re-authentication). Returns that status."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        response = bot.post(f"/connections/{name}/token/refresh")
        if response.status_code == 409:
            return 409
        if response.status_code == 200 and _rows(desk)[name].next_attempt_at is None:
            return 200
        # Backing off after a provider call that failed (e.g. timed out while the machine
        # was busy): the token was handed out unrefreshed, or not at all. Ask again later.
        assert time.monotonic() < deadline, (name, response.status_code, response.text)
        time.sleep(1.0)


def _rows(desk: Desk) -> dict[str, Any]:
    with desk.server.td.transaction(read_only=True) as tx:
        found = tx.execute(
            select(connections.c.name, tokens).join(tokens,
                                                    tokens.c.connection_id == connections.c.id)
        ).all()
    return {row.name: row for row in found}


def _introspect(desk: Desk, token: str) -> dict[str, Any]:
    client = desk.oauth.client(CLIENT)
    auth, fields = client.auth()
    response = httpx.post(desk.oauth.introspection_endpoint, data={"token": token, **fields},
                          auth=auth, timeout=10, trust_env=False)
    response.raise_for_status()
    return dict(response.json())


def _assert_no_retry_loop(calls: list[dict[str, Any]], started: list[float]) -> None:
    """Within one process's life, a refresh token the provider refused (invalid_grant) is
    never presented again: the token is marked at once, no retry loop. (A process killed
    before it stored the refusal leaves the next one a single retry.)"""
    refused: set[tuple[int, str]] = set()
    for call in sorted(calls, key=lambda c: str(c["at"])):
        if call["grant_type"] != "refresh_token":
            continue
        moment = datetime.fromisoformat(call["at"].replace("Z", "+00:00")).timestamp()
        life = (sum(1 for start in started if start <= moment), call["refresh_token_sha256"])
        assert life not in refused, f"a refused refresh token presented again: {call}"
        if call["error"] == "invalid_grant":
            refused.add(life)


def _figures(answers: list[tuple[int | None, Any]], burst: list[dict[str, Any]],
             settled: dict[str, int]) -> str:
    refreshes = [r for r in burst if r["grant_type"] == "refresh_token"]
    return (f"seed {SEED}; handouts during the burst by status "
            f"{dict(Counter(status for status, _ in answers))}; refresh calls during the burst "
            f"by outcome {dict(Counter(str(r['error'] or r['status']) for r in refreshes))}; "
            f"tokens after the restart by status {dict(Counter(settled.values()))}")



def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
