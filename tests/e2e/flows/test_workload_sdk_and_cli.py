"""Workloads without a stored key, from the SDK and the command line: the platform's JWT
(a file, as a Kubernetes projected token; or a callable) exchanged for a connection's token,
and issuers and rules managed with ``tokendesk workload-issuers``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.authorization_server import AuthorizationServer
from support.desk import BOT_ROLE, Desk
from support.event_loop import run as run_coroutine
from support.workload import AUDIENCE, CONNECTION, PLATFORM_OPTIONS, workload_jwt
from tokendesk.cli.main import app
from tokendesk.client import AccessToken, AuthenticationFailed, Client, NotFound, requires_token


@pytest.fixture
def platform(start_authorization_server: Callable[..., AuthorizationServer]) -> AuthorizationServer:
    return start_authorization_server(**PLATFORM_OPTIONS)


def cli(desk: Desk, *args: str) -> tuple[int, str]:
    """``tokendesk ARGS`` on the desk's database, as its operator."""
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


@pytest.fixture
def cli_ready(desk: Desk, platform: AuthorizationServer) -> Desk:
    """An issuer and a rule added from the command line."""
    desk.create_connection(CONNECTION, "cc-basic")
    code, output = cli(desk, "workload-issuers", "add", "--name", "ci", "--issuer",
                       platform.issuer, "--audience", AUDIENCE)
    assert code == 0, output
    code, output = cli(desk, "workload-issuers", "add-rule", "ci", "--when",
                       "client_id==runner", "--when", "sub in runner,deployer",
                       "--workload", "runner", "--role", BOT_ROLE)
    assert code == 0, output
    return desk


def test_rules_added_from_the_command_line_read_in_plain_words(cli_ready: Desk) -> None:
    code, output = cli(cli_ready, "workload-issuers", "show", "ci")

    assert code == 0, output
    assert ('When client_id is "runner" and sub is one of "runner", "deployer", act as '
            f"workload runner with roles: {BOT_ROLE}.") in output


def test_an_issuer_and_its_rule_are_edited_from_the_command_line(cli_ready: Desk) -> None:
    [rule_id] = [r["id"] for r in cli_ready.admin.get("/workload-issuers/ci").json()["rules"]]

    code, output = cli(cli_ready, "workload-issuers", "edit", "ci", "--max-lifetime-s", "600",
                       "--refuse-replay", "--json")
    assert code == 0, output
    code, ruled = cli(cli_ready, "workload-issuers", "edit-rule", "ci", rule_id, "--when",
                      "sub^=repo:acme/", "--workload", "acme", "--role", BOT_ROLE)
    assert code == 0, ruled

    shown = cli_ready.admin.get("/workload-issuers/ci").json()
    assert (shown["max_lifetime_s"], shown["refuse_replay"]) == (600, True)
    assert shown["audiences"] == [AUDIENCE]  # what was not given stays
    assert [r["id"] for r in shown["rules"]] == [rule_id]
    assert shown["rules"][0]["words"] == (
        f'When sub starts with "repo:acme/", act as workload acme with roles: {BOT_ROLE}.')
    assert f"rule {rule_id}: When sub starts with" in ruled


def test_an_hmac_algorithm_is_refused_for_an_issuer(desk: Desk,
                                                    platform: AuthorizationServer) -> None:
    answer = desk.admin.post("/workload-issuers", json={
        "name": "ci", "issuer": platform.issuer, "audiences": [AUDIENCE],
        "algorithms": ["RS256", "HS256"]})

    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "algorithms"
    assert "never an HMAC algorithm" in answer.json()["error"]["message"]


def test_the_sdk_exchanges_a_token_file_and_keeps_the_token_until_it_is_due(
    cli_ready: Desk, platform: AuthorizationServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(workload_jwt(platform) + "\n")

    with Client.from_workload_identity(cli_ready.server.url, token_file=token_file) as desk:
        first = desk.get_token(CONNECTION)
        token_file.write_text("not read again while the token is good")
        again = desk.get_token(CONNECTION)

    assert first.access_token == again.access_token
    assert first.expires_at is not None and first.connection == CONNECTION
    assert first.access_token == cli_ready.bot.get(
        f"/connections/{CONNECTION}/token").json()["access_token"]


def test_the_sdk_reads_the_platform_token_again_for_each_exchange(
    cli_ready: Desk, platform: AuthorizationServer
) -> None:
    calls: list[str] = []

    def platform_token() -> str:
        calls.append("read")
        return workload_jwt(platform)

    with Client.from_workload_identity(cli_ready.server.url,
                                       token_callable=platform_token) as desk:
        desk.get_token(CONNECTION)
        desk.get_token(CONNECTION, force_refresh=True)

    assert calls == ["read", "read"]


def test_the_sdk_raises_the_sdks_errors_for_rfc_errors(
    cli_ready: Desk, platform: AuthorizationServer
) -> None:
    stranger = Client.from_workload_identity(
        cli_ready.server.url, token_callable=lambda: workload_jwt(platform, "stranger"))
    runner = Client.from_workload_identity(
        cli_ready.server.url, token_callable=lambda: workload_jwt(platform))

    with stranger, pytest.raises(AuthenticationFailed) as refused:
        stranger.get_token(CONNECTION)
    with runner, pytest.raises(NotFound) as unknown:
        runner.get_token("No such connection")

    assert refused.value.code == "invalid_grant" and "No rule" in refused.value.message
    assert unknown.value.code == "invalid_target"


def test_tokendesk_token_with_a_workload_token_file(
    cli_ready: Desk, platform: AuthorizationServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(workload_jwt(platform))

    result = CliRunner().invoke(app, [
        "token", CONNECTION, "--url", cli_ready.server.url,
        "--workload-token-file", str(token_file), "--json"], env={"TOKENDESK_API_KEY": ""})

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["access_token"] == cli_ready.bot.get(
        f"/connections/{CONNECTION}/token").json()["access_token"]


def test_requires_token_hands_sync_and_async_functions_a_valid_token(
    cli_ready: Desk, platform: AuthorizationServer
) -> None:
    desk = Client.from_workload_identity(cli_ready.server.url,
                                         token_callable=lambda: workload_jwt(platform))

    @requires_token(CONNECTION, client=desk)
    def header(token: AccessToken, suffix: str) -> str:
        return token.authorization + suffix

    @requires_token(CONNECTION, client=desk)
    async def header_async(token: AccessToken) -> str:
        return token.authorization

    with desk:
        synced, awaited = header("!"), run_coroutine(header_async())
    expected = cli_ready.bot.get(f"/connections/{CONNECTION}/token").json()["access_token"]

    assert synced == f"Bearer {expected}!" and awaited == f"Bearer {expected}"


def test_tokendesk_token_exits_not_authenticated_for_a_refused_workload_token(
    cli_ready: Desk, platform: AuthorizationServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token = workload_jwt(platform, "stranger")
    token_file.write_text(token)

    result = CliRunner().invoke(app, [
        "token", CONNECTION, "--url", cli_ready.server.url,
        "--workload-token-file", str(token_file)], env={"TOKENDESK_API_KEY": ""})

    assert result.exit_code == 5, result.output
    assert "No rule of the workload issuer 'ci' maps this token" in result.output
    assert token not in result.output
