"""Tokens from the command line, against a running Tokendesk and a real authorization server."""

from __future__ import annotations

import json
import os
import subprocess

from typer.testing import CliRunner

from support.desk import Desk
from support.processes import tokendesk_executable
from support.tokendesk_server import Clock
from tokendesk.cli.main import app
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S


def cli(desk: Desk, *args: str) -> tuple[int, str]:
    settings = desk.server.settings
    assert settings.encryption_keys is not None
    env = {
        "TOKENDESK_DATABASE_URL": settings.effective_database_url,
        "TOKENDESK_DATA_DIR": str(settings.data_dir),
        "TOKENDESK_PUBLIC_URL": settings.public_url,
        "TOKENDESK_ALLOW_HTTP_LOOPBACK": "true",
        "TOKENDESK_EGRESS_ALLOWLIST": "127.0.0.1",
        "TOKENDESK_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
    }
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_testing_with_save_credentials_and_reading_the_token_status(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic")

    code, output = cli(desk, "connections", "test", "Reports API", "--save-credentials", "--json")
    status_code, status = cli(desk, "connections", "tokens", "Reports API", "--json")

    assert code == 0, output
    assert json.loads(output)["ok"] is True
    assert status_code == 0
    [shared] = json.loads(status)
    assert shared["kind"] == "shared" and shared["status"] == "valid"
    assert "access_token" not in status


def test_a_failed_test_exits_non_zero_with_the_cause(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic", client_secret="wrong")

    code, output = cli(desk, "connections", "test", "Reports API", "--json")

    assert code == 1
    assert json.loads(output)["cause"] == "invalid_client"


def test_authorize_prints_a_one_time_link_that_starts_the_consent(desk: Desk) -> None:
    desk.create_connection("Graph", "code-basic")

    code, output = cli(desk, "connections", "authorize", "Graph", "--user", "bot")
    landing = desk.consent(output.strip().splitlines()[0], as_user="bot")

    assert code == 0, output
    assert landing.status_code == 303
    assert (
        desk.bot.get("/connections/Graph/token", params={"token_type": "user"}).status_code == 200
    )


def test_tokendesk_token_prints_a_valid_access_token_for_scripts(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic")
    key = str(desk.bot.headers["authorization"]).removeprefix("Bearer ")

    done = subprocess.run(
        [tokendesk_executable(), "token", "Reports API"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TOKENDESK_URL": desk.server.url, "TOKENDESK_API_KEY": key},
    )
    missing = subprocess.run(
        [tokendesk_executable(), "token", "Nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TOKENDESK_URL": desk.server.url, "TOKENDESK_API_KEY": key},
    )

    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip() == desk.bot.get("/connections/Reports API/token").json()["access_token"]
    )
    assert missing.returncode == 3
    assert "no connection named" in missing.stderr.lower()


def test_deleting_a_connection_from_the_cli_revokes_its_tokens_at_the_provider_at_once(
    desk: Desk,
) -> None:
    desk.create_connection("Graph", "code-basic")
    verdict = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    desk.consent(verdict.json()["authorize_url"])

    code, output = cli(desk, "connections", "delete", "Graph", "--yes")

    assert code == 0, output
    revoked = desk.oauth.requests("revocation")
    assert [r["token_type_hint"] for r in revoked] == ["refresh_token", "access_token"]
    assert all(r["status"] == 200 for r in revoked)


def test_refresh_during_a_back_off_says_nothing_was_sent_and_the_state_says_until_when(
    desk: Desk, clock: Clock
) -> None:
    desk.create_connection("Reports API", "cc-basic")
    assert desk.bot.get("/connections/Reports API/token").status_code == 200
    desk.oauth.inject_fault(status=503, count=None)
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    failed = desk.admin.post("/connections/Reports API/tokens/shared/refresh")
    calls = desk.oauth.token_calls()

    code, output = cli(desk, "connections", "refresh", "Reports API")
    status_code, status = cli(desk, "connections", "tokens", "Reports API", "--json")
    table_code, table = cli(desk, "connections", "tokens", "Reports API")

    assert failed.status_code == 502, failed.text
    assert code == 0, output
    assert output.startswith("Not refreshed: nothing was sent to the provider, because "
                             "Tokendesk is backing off after a failed refresh until")
    assert desk.oauth.token_calls() == calls
    [shared] = json.loads(status)
    assert status_code == 0 and shared["state"] == "backing_off"
    assert shared["state_label"].startswith("Backing off until")
    assert "HTTP 503" in shared["reason"] and shared["retry_at"] is not None
    assert table_code == 0 and "Backing off until" in table and "Authenticate" not in table
