"""The ``tokendesk`` command: one sub-command per use case, each in its own module."""

from __future__ import annotations

import typer

from tokendesk.cli import (
    admin,
    audit,
    connections,
    encryption,
    keys,
    providers,
    roles,
    serve,
    settings,
    tokens,
    users,
)

app = typer.Typer(
    help="Tokendesk: a self-hosted OAuth 2.0 connection desk. Commands act on the database "
    "configured by the TOKENDESK_* environment variables, as the operator at the command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.command("init")(admin.init)
app.add_typer(admin.app, name="admin")
app.add_typer(users.app, name="users")
app.add_typer(roles.app, name="roles")
app.add_typer(keys.app, name="keys")
keys.app.command("rotate")(encryption.rotate)
keys.app.command("retire")(encryption.retire)
keys.app.command("encryption")(encryption.encryption)
app.add_typer(connections.app, name="connections")
app.add_typer(providers.app, name="providers")
app.command("audit")(audit.audit)
app.add_typer(settings.app, name="settings")
app.command("token")(tokens.token)


def main() -> None:
    app()
