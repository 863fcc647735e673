"""PostgreSQL stopped and started while bots fetch tokens: a clear 503 while it is down, and
answers again once it is back, without restarting Tokendesk.

The test runs its own throw-away PostgreSQL cluster (stopping the shared server would break
the tests running against it in parallel) and a real ``tokendesk serve`` process on it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.bots import BotThreads
from support.desk import Desk
from support.postgres_cluster import PrivateCluster, require_postgres_binaries
from support.processes import ServeProcess, replica_env

pytestmark = pytest.mark.postgres

POLLERS = 3
REQUEST_TIMEOUT_S = 10.0
WARM_UP_TIMEOUT_S = 20.0
DOWN_FOR_AT_LEAST_S = 3.0
OUTAGE_TIMEOUT_S = 20.0
RECOVERY_TIMEOUT_S = 30.0
STEADY_FOR_S = 2.0  # answers watched after recovery
PATHS = {
    "connections": "/api/v1/connections",  # a regular API call
    "health": "/api/v1/health",  # no authentication
    "token": "/api/v1/connections/Graph/token",  # the cached handout path
}
UNAVAILABLE = {
    "error": {
        "code": "database_unavailable",
        "message": "The database is not reachable right now; try again shortly.",
    }
}


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    started = PrivateCluster(require_postgres_binaries()).start()
    try:
        yield started
    finally:
        started.destroy()


@pytest.fixture
def database_url(cluster: PrivateCluster) -> str:
    """The in-process Tokendesk of ``desk`` and the serve process share the private cluster
    (the in-process one migrates it)."""
    return cluster.create_database()


@dataclass(frozen=True)
class Answer:
    what: str  # "token", "connections" or "health"
    started: float
    ended: float
    status: int | None  # None: no HTTP answer at all
    body: Any
    text: str


class Bots(BotThreads[Answer]):
    """Threads asking ``url`` for a token, the list of connections and the health, in turn,
    until stopped; every answer is kept."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(POLLERS, join_timeout_s=REQUEST_TIMEOUT_S + 5)
        self.url, self.key = url, key

    def run(self, index: int) -> None:
        with _client(self.url, self.key) as http:
            while not self.stopping:
                for what in PATHS:
                    self.keep(_get(http, what))
                time.sleep(0.01)

    def since(self, moment: float) -> list[Answer]:
        return [a for a in self.kept() if a.started >= moment]

    def wait_for(self, moment: float, status: int, timeout_s: float, count: int = 3) -> None:
        """Until every kind of request got ``count`` answers ``status`` after ``moment``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            seen = [a.what for a in self.since(moment) if a.status == status]
            if all(seen.count(what) >= count for what in ("token", "connections", "health")):
                return
            time.sleep(0.05)
        raise AssertionError(f"no {status} answers within {timeout_s} s: "
                             f"{[(a.what, a.status) for a in self.since(moment)][-12:]}")


def _client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S, trust_env=False,
                        headers={"Authorization": key})


def _get(http: httpx.Client, what: str) -> Answer:
    started = time.monotonic()
    try:
        response = http.get(PATHS[what])
        status, text = response.status_code, response.text
    except httpx.HTTPError as exc:
        status, text = None, repr(exc)
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    return Answer(what, started, time.monotonic(), status, body, text)


def _ask(url: str, key: str, what: str) -> Answer:
    with _client(url, key) as http:
        return _get(http, what)


def test_bots_get_a_clear_503_while_postgresql_is_down_and_tokens_again_after(
    desk: Desk, cluster: PrivateCluster, tmp_path: Path
) -> None:
    desk.oauth.update_settings(access_token_ttl_s=3600)  # handouts come from the cache
    desk.create_connection("Graph", "code-basic")
    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    desk.consent(link.json()["authorize_url"])
    key = str(desk.bot.headers["authorization"])
    serve = ServeProcess(replica_env(desk.server.settings, tmp_path / "serve-data"),
                         tmp_path / "serve.log").start()
    try:
        with Bots(serve.url, key) as bots:
            start = time.monotonic()
            bots.wait_for(start, 200, WARM_UP_TIMEOUT_S)
            stopping = time.monotonic()
            cluster.stop()
            down = time.monotonic()
            bots.wait_for(down, 503, OUTAGE_TIMEOUT_S)
            time.sleep(max(0.0, down + DOWN_FOR_AT_LEAST_S - time.monotonic()))
            starting = time.monotonic()
            cluster.start()
            up = time.monotonic()
            bots.wait_for(up, 200, RECOVERY_TIMEOUT_S)
            time.sleep(STEADY_FOR_S)
        # Again, as a crash this time, while nobody asks: pooled connections go stale unseen.
        cluster.stop(mode="immediate")
        cluster.start()
        quiet = [_ask(serve.url, key, what) for what in (*PATHS, "token")]
        assert serve.process is not None and serve.process.poll() is None  # never restarted
    finally:
        serve.stop()
    answers, logs = bots.answers, serve.logs()

    before = [a for a in answers if a.ended < stopping]
    outage = [a for a in answers if down <= a.started and a.ended < starting]
    after = [a for a in answers if a.started >= up]
    assert before and all(a.status == 200 for a in before), _summary(before)
    assert outage and all(a.status == 503 for a in outage), _summary(outage)
    assert all(a.status in (200, 503) for a in answers), _summary(answers)  # never a 500
    for answer in answers + quiet:
        if answer.status == 503:
            assert answer.body == UNAVAILABLE, answer.text
    assert after and all(a.status == 200 for a in after), _summary(after)  # back at once

    # After a restart nobody saw, the very first API call succeeds: the pool checks a
    # connection before lending it, and the hot path's epoch reader, finding its held
    # connection broken, reads once more on a fresh one.
    assert all(answer.status == 200 for answer in quiet), _summary(quiet)

    handed_out = {a.body["access_token"] for a in [*before, *after, *quiet]
                  if a.what == "token" and a.status == 200}
    assert len(handed_out) == 1  # the same token throughout: nothing lost, no re-consent
    secrets = [*handed_out, key.removeprefix("Bearer "),
               desk.oauth.client("code-basic").client_secret]
    for secret in secrets:
        assert secret
        assert not any(secret in a.text for a in answers + quiet if a.status != 200)
        assert secret not in logs
    assert "Traceback" not in logs
    # Hundreds of failed requests, a few lines: the same failure is logged once per window.
    assert len(outage) > 50
    assert 1 <= logs.count("request failed: database_unavailable") <= 3


def _summary(answers: list[Answer]) -> str:
    counts: dict[tuple[str, int | None], int] = {}
    for answer in answers:
        counts[answer.what, answer.status] = counts.get((answer.what, answer.status), 0) + 1
    odd = [a.text[:300] for a in answers if a.status not in (200, 503)][:3]
    return f"{counts} {odd}"
