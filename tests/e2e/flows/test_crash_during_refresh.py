"""A crash after the provider rotated a refresh token and before Tokendesk stored it: no loop,
at most one retry with the old refresh token, then a clear "needs re-authentication" with
an audit event -- never a silently broken token.

The crash is caused from outside: the authorization server processes the refresh (rotates
the refresh token) and holds its answer (the ``hold_response_ms`` fault); the test kills the
Tokendesk process with SIGKILL in that moment, as an out-of-memory killer or a power cut would.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from support.desk import Desk
from support.processes import ServeProcess, replica_env

ACCESS_TOKEN_TTL_S = 4
PROVIDER_TIMEOUT_S = 2  # so the dead process's lease (timeout + 10 s) runs out quickly
HOLD_MS = 60_000  # the provider holds its answer until the process is dead (or this long)
HELD_WITHIN_S = 30.0


def refresh_held(desk: Desk, state: str) -> dict[str, Any]:
    """The refresh request once the provider's held answer is in ``state`` ("holding": the
    refresh token is rotated and the answer waits; "client_gone": it was never sent)."""
    deadline = time.monotonic() + HELD_WITHIN_S
    while time.monotonic() < deadline:
        for record in desk.oauth.requests("token"):
            if record["held"] == state:
                return record
        time.sleep(0.05)
    raise AssertionError(f"no refresh became held={state!r}: {desk.oauth.requests()}")


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
    crashing = ServeProcess(crash_env(desk, tmp_path), tmp_path / "a.log").start()
    time.sleep(ACCESS_TOKEN_TTL_S / 2 + 0.5)  # the token is due for refresh
    desk.oauth.reset()
    desk.oauth.inject_fault(grant_type="refresh_token", hold_response_ms=HOLD_MS)

    outcome: list[object] = []

    def hand_out() -> None:
        try:
            outcome.append(httpx.get(f"{crashing.url}/api/v1/connections/Graph/token",
                                     timeout=HELD_WITHIN_S + 30, headers={"Authorization": key}))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    handout = threading.Thread(target=hand_out, daemon=True)
    handout.start()
    refresh_held(desk, "holding")
    assert crashing.process is not None
    crashing.process.send_signal(signal.SIGKILL)  # between the provider's answer and storage
    assert crashing.process.wait(timeout=10) == -signal.SIGKILL
    handout.join(timeout=30)
    [died] = outcome
    assert isinstance(died, httpx.HTTPError)  # the process died mid-request
    rotated = refresh_held(desk, "client_gone")  # rotated, then lost with the process
    assert [r["status"] for r in desk.oauth.requests("token")] == [200]
    assert rotated["issued_refresh_token_sha256"] != rotated["refresh_token_sha256"]

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
