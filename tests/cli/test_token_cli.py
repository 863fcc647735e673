"""``tokendesk token NAME`` asks a running Tokendesk as a bot does (through the SDK) and exits
with the code of the API's error in the one exit-code table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.api import connection_body, key_for, make_user
from support.cli import Cli, one_error_line
from support.tokendesk_server import TokendeskServer, free_port
from tokendesk.cli.exit_codes import exit_code_for
from tokendesk.errors import (
    AuthenticationRequired,
    ConnectionNotFound,
    NotAuthenticated,
    NotInvited,
)

BOT_ROLE = "Sales bots"


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[TokendeskServer]:
    running = TokendeskServer(database_url, tmp_path / "server-data",
                              clock=lambda: datetime.now(UTC)).start()
    admin = running.api(key_for(running.td, "admin"))
    admin.post("/roles", json={"name": BOT_ROLE, "permissions": []}).raise_for_status()
    admin.post("/connections", json=connection_body(invited_roles=[BOT_ROLE])).raise_for_status()
    admin.close()
    yield running
    running.stop()


def bot_cli(server: TokendeskServer, api_key: str) -> Cli:
    return Cli({"TOKENDESK_URL": server.url, "TOKENDESK_API_KEY": api_key})


def test_a_token_nobody_consented_to_exits_with_the_table_code_and_where_to_consent(
    server: TokendeskServer,
) -> None:
    bot = bot_cli(server, make_user(server.td, "bot", roles=[BOT_ROLE]))

    result = bot("token", "Salesforce prod", "--type", "user")

    assert result.exit_code == exit_code_for(NotAuthenticated) == 6
    assert f"Authenticate at {server.url}/my/connections/" in one_error_line(result)


def test_an_unknown_connection_and_a_wrong_key_exit_with_their_table_codes(
    server: TokendeskServer,
) -> None:
    bot = bot_cli(server, make_user(server.td, "bot", roles=[BOT_ROLE]))

    unknown = bot("token", "Nothing here")
    wrong_key = bot_cli(server, "td_not-a-key")("token", "Salesforce prod")
    no_key = bot_cli(server, "")("token", "Salesforce prod")

    assert unknown.exit_code == exit_code_for(ConnectionNotFound) == 3
    assert wrong_key.exit_code == no_key.exit_code == exit_code_for(AuthenticationRequired)
    assert "TOKENDESK_API_KEY" in one_error_line(no_key)
    assert "td_not-a-key" not in wrong_key.output


def test_the_administrator_not_invited_exits_not_permitted_and_hears_which_roles_are(
    server: TokendeskServer,
) -> None:
    admin = bot_cli(server, key_for(server.td, "admin"))
    stranger = bot_cli(server, make_user(server.td, "stranger"))

    refused = admin("token", "Salesforce prod")
    hidden = stranger("token", "Salesforce prod")

    assert refused.exit_code == exit_code_for(NotInvited) == 5
    assert BOT_ROLE in one_error_line(refused)
    assert hidden.exit_code == exit_code_for(ConnectionNotFound) == 3
    assert BOT_ROLE not in hidden.output


def test_an_unreachable_tokendesk_exits_unavailable_in_one_line() -> None:
    nobody = Cli({"TOKENDESK_URL": f"http://127.0.0.1:{free_port()}",
                  "TOKENDESK_API_KEY": "td_key"})

    result = nobody("token", "Salesforce prod")

    assert result.exit_code == 69
    assert "could not be reached" in one_error_line(result)
