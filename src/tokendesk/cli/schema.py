"""``tokendesk migrate``: bring the database schema up to this version of Tokendesk.

Only this command and ``serve`` upgrade the schema; every other command refuses a schema
that is behind (SchemaBehind) and changes nothing, so that an upgrade happens when the
operator chooses it (after a backup, once for all replicas)."""

from __future__ import annotations

import typer

from tokendesk.cli.context import open_tokendesk


def migrate() -> None:
    """Upgrade the database schema to this version (creating it in an empty database)."""
    with open_tokendesk(migrate_schema=True) as td:
        typer.echo(f"The database schema is up to date; database: "
                   f"{td.engine.url.render_as_string()}")
