"""Connections with certificate credentials (private_key_jwt) from the command line: the key
and certificate come from files (never an argument), no secret is asked for, the key is
stored encrypted and never printed; bad keys are refused naming the option's field."""

from __future__ import annotations

from pathlib import Path

from support.cli import Cli
from support.client_keys import encrypted_pem, key_pair
from tokendesk.domain.principal import command_line_principal
from tokendesk.wiring import Tokendesk

CREATE = ("connections", "create", "--name", "Graph app-only", "--provider", "custom",
          "--grant-type", "client_credentials", "--client-id", "desk-cert-client",
          "--token-url", "https://login.example.test/oauth2/token", "--scopes", "api:read",
          "--client-auth-method", "private_key_jwt")


def files(tmp_path: Path, key: str | None = None) -> tuple[tuple[str, str], tuple[str, str]]:
    pair = key_pair()
    key_file, cert_file = tmp_path / "client.key", tmp_path / "client.crt"
    key_file.write_text(key or pair.key_pem)
    cert_file.write_text(pair.certificate_pem)
    return ("--client-key-file", str(key_file)), ("--client-certificate-file", str(cert_file))


def stored_key(td: Tokendesk, name: str) -> str | None:
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), name)
        key = td.connections.client_key(tx, connection)
    return key.reveal() if key else None


def test_create_reads_key_and_certificate_files_asks_no_secret_and_prints_the_thumbprint(
    cli: Cli, td: Tokendesk, tmp_path: Path
) -> None:
    key_option, cert_option = files(tmp_path)

    body = cli.json(*CREATE, *key_option, *cert_option)

    assert body["client_auth_method"] == "private_key_jwt"
    assert body["has_client_key"] is True
    assert body["client_secret_stored"] is False
    assert body["client_certificate"]["x5t_s256"]
    assert stored_key(td, "Graph app-only") == key_pair().key_pem.strip()


def test_the_key_never_appears_in_any_output(cli: Cli, tmp_path: Path) -> None:
    key_option, cert_option = files(tmp_path)
    cli.ok(*CREATE, *key_option, *cert_option)
    for json_flag in ((), ("--json",)):
        cli.ok("connections", "show", "Graph app-only", *json_flag)
        cli.ok("connections", "list", *json_flag)
        cli.ok("connections", "edit", "Graph app-only", *key_option, *json_flag)
        cli.ok("audit", *json_flag)

    body = "".join(line for line in key_pair().key_pem.splitlines() if "-----" not in line)
    assert body[:40] not in cli.everything_printed
    assert "PRIVATE KEY" not in cli.everything_printed


def test_an_encrypted_key_file_is_refused_naming_the_key(cli: Cli, tmp_path: Path) -> None:
    key_option, cert_option = files(tmp_path, key=encrypted_pem(key_pair()))

    result = cli(*CREATE, *key_option, *cert_option)

    assert result.exit_code == 2
    assert "passphrase" in result.stderr
    assert "client_key" in result.stderr or "client key" in result.stderr


def test_moving_the_token_url_without_the_key_file_is_refused(
    cli: Cli, tmp_path: Path
) -> None:
    key_option, cert_option = files(tmp_path)
    cli.ok(*CREATE, *key_option, *cert_option)

    moved = cli("connections", "edit", "Graph app-only",
                "--token-url", "https://elsewhere.example.test/token")
    again = cli("connections", "edit", "Graph app-only",
                "--token-url", "https://elsewhere.example.test/token", *key_option)

    assert moved.exit_code == 2
    assert "enter the client key again" in moved.stderr
    assert again.exit_code == 0, again.output


def test_a_key_cannot_be_given_as_an_argument(cli: Cli) -> None:
    result = cli(*CREATE, "--client-key", key_pair().key_pem)

    assert result.exit_code == 2
    assert "No such option" in result.stderr
