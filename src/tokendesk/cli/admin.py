"""``tokendesk init`` and ``tokendesk admin create``: set-up without prompts."""

from __future__ import annotations

import typer

from tokendesk.cli.context import open_tokendesk, read_secret
from tokendesk.domain.principal import command_line_principal

HELP = "Set up administrators."


def create_admin(
    username: str = typer.Option(..., "--username", help="The new administrator's username."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from standard input."),
) -> None:
    """Create an administrator (reads the password from stdin or a hidden prompt)."""
    password = read_secret("Password", password_stdin, stdin_option="--password-stdin",
                           confirm=True)
    with open_tokendesk(create_missing=True) as td, td.transaction() as tx:
        user = td.accounts.bootstrap_admin(tx, command_line_principal(), username, password)
    typer.echo(f"Administrator '{user.username}' created.")


def init() -> None:
    """Create the data folder, the key ring and the database, without starting the server.

    It creates the schema of an empty database only; one that is behind is left to
    `tokendesk migrate`."""
    with open_tokendesk(create_missing=True) as td:
        typer.echo(f"Tokendesk is set up; database: {td.engine.url.render_as_string()}")
