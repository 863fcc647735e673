"""The ``tokendesk`` command."""

from __future__ import annotations

import typer

from tokendesk.cli import admin, serve

app = typer.Typer(
    help="Tokendesk: a self-hosted OAuth 2.0 connection desk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.command("init")(admin.init)
app.add_typer(admin.app, name="admin")


def main() -> None:
    app()
