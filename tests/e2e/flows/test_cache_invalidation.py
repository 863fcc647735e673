"""Caching never weakens security: each change takes effect on the very next request, on
another replica too (its in-memory cache was warm when the change was made elsewhere)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from support.desk import Desk
from support.processes import ServeProcess, replica_env


@pytest.fixture
def replica(desk: Desk, tmp_path: Path) -> Iterator[ServeProcess]:
    env = replica_env(desk.server.settings, tmp_path / "replica-data")
    serve = ServeProcess(env, tmp_path / "replica.log").start()
    yield serve
    serve.stop()


def warm(desk: Desk, replica: ServeProcess) -> tuple[httpx.Client, str]:
    desk.create_connection("Reports API", "cc-basic")
    bot = httpx.Client(
        base_url=replica.url + "/api/v1",
        timeout=30,
        headers={"Authorization": str(desk.bot.headers["authorization"])},
    )
    first = bot.get("/connections/Reports API/token")
    assert first.status_code == 200, first.text
    assert bot.get("/connections/Reports API/token").json() == first.json()  # from the cache
    return bot, str(first.json()["access_token"])


def revoke_key(desk: Desk) -> None:
    keys = desk.admin.get("/keys").json()
    bot_key = next(k for k in keys if k["user"] == "bot" and not k["revoked_at"])
    desk.admin.delete(f"/keys/{bot_key['id']}").raise_for_status()


def uninvite(desk: Desk) -> None:
    desk.admin.patch("/connections/Reports API", json={"invited_roles": []}).raise_for_status()


def disable_user(desk: Desk) -> None:
    desk.admin.patch("/users/bot", json={"disabled": True}).raise_for_status()


def remove_from_role(desk: Desk) -> None:
    desk.admin.patch("/users/bot", json={"roles": []}).raise_for_status()


def delete_connection(desk: Desk) -> None:
    desk.admin.delete("/connections/Reports API").raise_for_status()


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (revoke_key, 401),
        (disable_user, 401),
        (uninvite, 404),
        (remove_from_role, 404),
        (delete_connection, 404),
    ],
)
def test_a_change_on_one_replica_takes_effect_on_the_next_request_of_another(
    desk: Desk, replica: ServeProcess, change: Callable[[Desk], None], status: int
) -> None:
    bot, _ = warm(desk, replica)

    change(desk)
    after = bot.get("/connections/Reports API/token")

    assert after.status_code == status, after.text


def test_a_new_token_replaces_the_cached_one_at_once(desk: Desk, replica: ServeProcess) -> None:
    bot, old = warm(desk, replica)

    desk.admin.post("/connections/Reports API/test", json={"save_credentials": True})
    after = bot.get("/connections/Reports API/token").json()["access_token"]

    assert after != old


def test_cached_handouts_are_audited_too(desk: Desk, replica: ServeProcess) -> None:
    bot, _ = warm(desk, replica)
    for _ in range(5):
        bot.get("/connections/Reports API/token").raise_for_status()
    replica.stop()  # a clean shutdown writes what is buffered

    events = desk.admin.get("/audit", params={"action": "token.handout", "limit": 100}).json()

    assert len(events) == 7
    assert {e["actor"] for e in events} == {"bot"}
    assert all("access_token" not in str(e["details"]) for e in events)


def test_refused_handouts_are_audited_with_the_reason(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic")
    desk.admin.patch("/connections/Reports API", json={"invited_roles": []}).raise_for_status()

    refused = desk.bot.get("/connections/Reports API/token")
    events = desk.admin.get("/audit", params={"action": "token.handout"}).json()

    assert refused.status_code == 404
    assert [(e["actor"], e["outcome"], e["details"]["error"]) for e in events] == [
        ("bot", "denied", "connection_not_found")]
