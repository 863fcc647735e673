"""``tokendesk keys rotate|retire|encryption``: the encryption key ring (not API keys)."""

from __future__ import annotations

from typing import Annotated

import typer

from tokendesk.cli.context import open_tokendesk


def rotate() -> None:
    """Add a new active encryption key; running servers re-encrypt in the background."""
    with open_tokendesk() as td:
        key_id = td.keys.rotate()
    typer.echo(
        f"Encryption key {key_id} is now active. Stored values are re-encrypted in the "
        "background; retire the old key with `tokendesk keys retire KEY_ID` once "
        "`tokendesk keys encryption` shows it unused."
    )


def retire(key_id: Annotated[str, typer.Argument(metavar="KEY_ID")]) -> None:
    """Remove an old encryption key that no stored value uses any more."""
    with open_tokendesk() as td:
        td.keys.retire(key_id)
    typer.echo(f"Encryption key {key_id} is retired.")


def encryption(
    reseal: Annotated[
        bool,
        typer.Option(
            "--reseal", help="Re-encrypt everything now instead of waiting for the servers."
        ),
    ] = False,
) -> None:
    """Show the encryption keys and how many stored values each one seals."""
    with open_tokendesk() as td:
        if reseal:
            while td.keys.reseal_some():
                pass
        for usage in td.keys.usage():
            active = " (active)" if usage.active else ""
            typer.echo(f"{usage.key_id}{active}: {usage.stored_values} stored values")
