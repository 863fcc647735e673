"""Several ``tokendesk serve`` processes on one database refresh a token exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from support.desk import Desk
from support.processes import ServeProcess, replica_env

ACCESS_TOKEN_TTL_S = 8
HANDOUTS_PER_REPLICA = 40


@pytest.fixture
def replicas(desk: Desk, tmp_path: Path) -> Iterator[list[ServeProcess]]:
    env = replica_env(desk.server.settings, tmp_path / "replica-data",
                      TOKENDESK_LOG_LEVEL="WARNING")
    started = [ServeProcess(env, tmp_path / f"replica-{i}.log").start() for i in range(2)]
    yield started
    for replica in started:
        replica.stop()


def test_two_replicas_refresh_an_expired_token_with_one_call(
    desk: Desk, replicas: list[ServeProcess]
) -> None:
    desk.oauth.update_settings(access_token_ttl_s=ACCESS_TOKEN_TTL_S)
    desk.create_connection("Graph", "code-basic")
    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    desk.consent(link.json()["authorize_url"])
    key = desk.bot.headers["authorization"]
    first = desk.bot.get("/connections/Graph/token").json()["access_token"]
    time.sleep(ACCESS_TOKEN_TTL_S / 2 + 0.5)  # inside the refresh margin (half the lifetime)
    desk.oauth.reset()
    desk.oauth.update_settings(access_token_ttl_s=3600)  # the refreshed token is not due again

    def fetch(url: str) -> str:
        response = httpx.get(
            f"{url}/api/v1/connections/Graph/token", timeout=60, headers={"Authorization": key}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    urls = [r.url for r in replicas] * HANDOUTS_PER_REPLICA
    with ThreadPoolExecutor(max_workers=16) as pool:
        handed_out = list(pool.map(fetch, urls))

    assert desk.oauth.token_calls("refresh_token") == 1, [r.logs() for r in replicas]
    assert len(set(handed_out)) == 1
    assert handed_out[0] != first
