"""A crash after the provider rotated a refresh token and before Tokendesk stored it: no loop,
at most one retry with the old refresh token, then a clear "needs re-authentication" with
an audit event -- never a silently broken token."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from support.desk import Desk
from support.processes import ServeProcess, replica_env

ACCESS_TOKEN_TTL_S = 4
PROVIDER_TIMEOUT_S = 2  # so the dead process's lease (timeout + 10 s) runs out quickly


def crash_env(desk: Desk, tmp_path: Path, **extra: str) -> dict[str, str]:
    return replica_env(desk.server.settings, tmp_path / "replica-data",
                       TOKENDESK_PROVIDER_TIMEOUT_S=str(PROVIDER_TIMEOUT_S), **extra)


def test_a_crash_between_rotation_and_storage_ends_in_a_clear_reauthentication(
    desk: Desk, tmp_path: Path
) -> None:
    desk.oauth.update_settings(access_token_ttl_s=ACCESS_TOKEN_TTL_S)
    desk.create_connection("Graph", "code-basic")
    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    desk.consent(link.json()["authorize_url"])
    key = str(desk.bot.headers["authorization"])
    crashing = ServeProcess(crash_env(desk, tmp_path, TOKENDESK_FAULT_POINT=
                                        "after_refresh_response"), tmp_path / "a.log").start()
    time.sleep(ACCESS_TOKEN_TTL_S / 2 + 0.5)  # the token is due for refresh
    desk.oauth.reset()

    with pytest.raises(httpx.HTTPError):  # the process dies mid-request
        httpx.get(f"{crashing.url}/api/v1/connections/Graph/token", timeout=30,
                  headers={"Authorization": key})
    assert crashing.process is not None and crashing.process.wait(timeout=10) == -9
    assert [r["status"] for r in desk.oauth.requests("token")] == [200]  # rotated, then lost

    restarted = ServeProcess(crash_env(desk, tmp_path), tmp_path / "b.log").start()
    try:
        first = httpx.get(f"{restarted.url}/api/v1/connections/Graph/token", timeout=60,
                          headers={"Authorization": key})
        again = httpx.get(f"{restarted.url}/api/v1/connections/Graph/token", timeout=60,
                          headers={"Authorization": key})
    finally:
        restarted.stop()

    refreshes = desk.oauth.requests("token")
    assert len(refreshes) == 2  # exactly one retry with the old refresh token, no loop
    assert refreshes[1]["refresh_token_sha256"] == refreshes[0]["refresh_token_sha256"]
    assert refreshes[1]["error"] == "invalid_grant"  # reuse detected by the provider
    for response in (first, again):
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "reauthentication_required"
        assert response.json()["error"]["authenticate_url"].endswith("/connections/Graph")
    events = desk.admin.get("/audit", params={"action": "token.refresh"}).json()
    assert [e["outcome"] for e in events] == ["failure"]
    assert desk.admin.get("/connections/Graph/tokens").json()[0]["status"] == \
        "needs_reauthentication"
