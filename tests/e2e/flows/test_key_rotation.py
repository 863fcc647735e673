"""Key rotation without downtime: bots keep getting tokens from two processes while a new key
becomes active and every stored value is re-encrypted; then the old key retires."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from support.api import key_for, make_user
from support.authorization_server import AuthorizationServer, default_clients
from support.desk import BOT_ROLE, Desk
from support.processes import ServeProcess
from support.tokendesk_server import Clock, TokendeskServer
from tokendesk.cli.main import app
from tokendesk.crypto import KeyRing

HANDOUT_WINDOW_S = 8.0


@pytest.fixture
def file_desk(database_url: str, tmp_path: Path, authorization_server: AuthorizationServer,
              ) -> Iterator[Desk]:
    """A Desk whose key ring lives in the data folder (the file `keys rotate` rewrites)."""
    server = TokendeskServer(database_url, tmp_path / "data", clock=Clock(),
                             keyring_file=True).start()
    for client in default_clients([server.callback_url]):
        authorization_server.register_client(client)
    admin = server.api(key_for(server.td, "admin"))
    admin.post("/roles", json={"name": BOT_ROLE, "permissions": []}).raise_for_status()
    bot = server.api(make_user(server.td, "bot", roles=[BOT_ROLE]))
    yield Desk(server, authorization_server, admin, bot)
    server.stop()


def test_bots_keep_getting_tokens_while_the_key_rotates(file_desk: Desk, tmp_path: Path) -> None:
    desk = file_desk
    settings = desk.server.settings
    env = {"TOKENDESK_DATABASE_URL": settings.effective_database_url,
           "TOKENDESK_DATA_DIR": str(settings.data_dir),
           "TOKENDESK_ALLOW_HTTP_LOOPBACK": "true", "TOKENDESK_EGRESS_ALLOWLIST": "127.0.0.1",
           "TOKENDESK_BACKGROUND_REFRESH": "false"}
    names = [f"Reports {i}" for i in range(4)]
    for name in names:
        desk.create_connection(name, "cc-basic")
        desk.admin.post(f"/connections/{name}/test", json={"save_credentials": True})
    replica = ServeProcess(env, tmp_path / "replica.log").start()
    old_key = KeyRing.from_json((settings.data_dir / "keyring.json").read_text()).active_key_id
    failures: list[str] = []
    served = [0]
    stop = threading.Event()
    key = str(desk.bot.headers["authorization"])

    def fetch_continuously() -> None:
        urls = [desk.server.url, replica.url]
        with httpx.Client(timeout=30, headers={"Authorization": key}) as http:
            deadline = time.monotonic() + HANDOUT_WINDOW_S * 3
            while not stop.is_set() and time.monotonic() < deadline:
                for url in urls:
                    for name in names:
                        r = http.get(f"{url}/api/v1/connections/{name}/token")
                        served[0] += 1
                        if r.status_code != 200:
                            failures.append(f"{url} {name}: {r.status_code} {r.text[:200]}")

    worker = threading.Thread(target=fetch_continuously)
    worker.start()
    try:
        time.sleep(1)
        rotated = CliRunner().invoke(app, ["keys", "rotate"], env=env)
        assert rotated.exit_code == 0, rotated.output
        resealed = CliRunner().invoke(app, ["keys", "encryption", "--reseal"], env=env)
        assert resealed.exit_code == 0, resealed.output
        time.sleep(2)
    finally:
        stop.set()
        worker.join()
        replica.stop()

    assert failures == []
    assert served[0] > 20
    assert f"{old_key}: 0 stored values" in resealed.output
    retired = CliRunner().invoke(app, ["keys", "retire", old_key], env=env)
    assert retired.exit_code == 0, retired.output
    assert desk.bot.get(f"/connections/{names[0]}/token").status_code == 200
    ring = KeyRing.from_json((settings.data_dir / "keyring.json").read_text())
    assert ring.key_ids == (ring.active_key_id,) and ring.active_key_id != old_key


def test_a_key_still_in_use_cannot_be_retired(file_desk: Desk) -> None:
    desk = file_desk
    desk.create_connection("Reports", "cc-basic")
    settings = desk.server.settings
    env = {"TOKENDESK_DATABASE_URL": settings.effective_database_url,
           "TOKENDESK_DATA_DIR": str(settings.data_dir)}
    old_key = KeyRing.from_json((settings.data_dir / "keyring.json").read_text()).active_key_id

    CliRunner().invoke(app, ["keys", "rotate"], env=env)
    refused = CliRunner().invoke(app, ["keys", "retire", old_key], env=env)

    assert refused.exit_code == 2
    assert "still use" in refused.output
