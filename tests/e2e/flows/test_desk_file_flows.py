"""The desk file against a running Tokendesk and the real authorization server: a connection
applied from a file works with the secret read from the environment of the machine that
applied it (and goes through its own proxy, a real one, with the password referred to), and
a connection the file prunes has its tokens revoked at the provider."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from typer.testing import CliRunner, Result

from support.desk import BOT_ROLE, Desk
from support.forward_proxy import ForwardProxy
from tokendesk.cli.main import app


def cli(desk: Desk, *args: str, **extra_env: str) -> Result:
    settings = desk.server.settings
    assert settings.encryption_keys is not None
    env = {
        "TOKENDESK_DATABASE_URL": settings.effective_database_url,
        "TOKENDESK_DATA_DIR": str(settings.data_dir),
        "TOKENDESK_PUBLIC_URL": settings.public_url,
        "TOKENDESK_ALLOW_HTTP_LOOPBACK": "true",
        "TOKENDESK_EGRESS_ALLOWLIST": "127.0.0.1",
        "TOKENDESK_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
        **extra_env,
    }
    return CliRunner().invoke(app, list(args), env=env)


def test_a_connection_applied_from_a_desk_file_gets_a_token_with_the_referenced_secret(
    desk: Desk, tmp_path: Path
) -> None:
    client = desk.oauth.clients["cc-basic"]
    desk_file = tmp_path / "desk.yaml"
    desk_file.write_text(yaml.safe_dump({"version": 1, "connections": [{
        "name": "Reports API", "provider": "custom", "grant_type": "client_credentials",
        "client_id": client.client_id, "client_secret": {"env": "TOKENDESK_SECRET_REPORTS"},
        "token_url": desk.oauth.token_endpoint, "scopes": ["api:read"],
        "client_auth_method": "client_secret_basic", "invited_roles": [BOT_ROLE]}]}))

    applied = cli(desk, "apply", "-f", str(desk_file),
                  TOKENDESK_SECRET_REPORTS=client.client_secret)
    verdict = desk.admin.post("/connections/Reports API/test", json={"save_credentials": True})
    token = desk.bot.get("/connections/Reports API/token")

    assert applied.exit_code == 0, applied.output
    assert verdict.json()["ok"] is True, verdict.text
    assert token.status_code == 200 and token.json()["access_token"]
    assert client.client_secret not in applied.output


@pytest.fixture
def own_proxy(tmp_path: Path) -> Iterator[ForwardProxy]:
    (tmp_path / "own").mkdir()
    proxy = ForwardProxy(tmp_path / "own", username="onprem", password="0n-prem-pr0xy-pa55")
    yield proxy.start()
    proxy.stop()


def test_a_connection_applied_with_its_own_proxy_gets_its_token_through_that_proxy(
    desk: Desk, tmp_path: Path, own_proxy: ForwardProxy
) -> None:
    client = desk.oauth.clients["cc-basic"]
    desk_file = tmp_path / "desk.yaml"
    desk_file.write_text(yaml.safe_dump({"version": 1, "connections": [{
        "name": "On-prem API", "provider": "custom", "grant_type": "client_credentials",
        "client_id": client.client_id, "client_secret": {"env": "TOKENDESK_SECRET_ONPREM"},
        "token_url": desk.oauth.token_endpoint, "scopes": ["api:read"],
        "client_auth_method": "client_secret_basic", "invited_roles": [BOT_ROLE],
        "proxy_mode": "own", "proxy_url": f"http://127.0.0.1:{own_proxy.port}",
        "proxy_username": own_proxy.username,
        "proxy_password": {"env": "TOKENDESK_SECRET_ONPREM_PROXY_PASSWORD"}}]}))

    applied = cli(desk, "apply", "-f", str(desk_file), TOKENDESK_SECRET_ONPREM=client.client_secret,
                  TOKENDESK_SECRET_ONPREM_PROXY_PASSWORD=own_proxy.password)
    token = desk.bot.get("/connections/On-prem API/token")
    desk.server.td.outbound.close()  # a proxy logs a request when its connection closes

    assert applied.exit_code == 0, applied.output
    assert token.status_code == 200, token.text
    assert len(own_proxy.requests_to(urlsplit(desk.oauth.issuer).netloc)) == 1
    assert own_proxy.password not in applied.output


def test_a_connection_pruned_by_a_desk_file_has_its_tokens_revoked_at_the_provider(
    desk: Desk, tmp_path: Path
) -> None:
    desk.create_connection("Graph", "code-basic")
    verdict = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    desk.consent(verdict.json()["authorize_url"])
    desk_file = tmp_path / "desk.yaml"
    desk_file.write_text("version: 1\nconnections: []\n")

    planned = cli(desk, "apply", "-f", str(desk_file), "--prune", "--dry-run")
    assert desk.oauth.requests("revocation") == []
    applied = cli(desk, "apply", "-f", str(desk_file), "--prune", "--json")

    assert planned.exit_code == 0, planned.output
    assert "- delete connection 'Graph'" in planned.output
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.output)["summary"] == {"create": 0, "update": 0, "delete": 1}
    assert desk.admin.get("/connections/Graph").status_code == 404
    revoked = desk.oauth.requests("revocation")
    assert [r["token_type_hint"] for r in revoked] == ["refresh_token", "access_token"]
    assert all(r["status"] == 200 for r in revoked)
