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


def retire(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID")],
    accept_unreadable: Annotated[
        bool,
        typer.Option(
            "--accept-unreadable",
            help="Retire it even though damaged values (that cannot be decrypted) still "
            "carry it; they stay unreadable. `keys encryption --reseal` lists them.",
        ),
    ] = False,
) -> None:
    """Remove an old encryption key that no readable stored value uses any more."""
    with open_tokendesk() as td:
        damaged = td.keys.retire(key_id, accept_unreadable=accept_unreadable)
    for value in damaged:
        typer.echo(f"unreadable: {value.kind} {value.id}")
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
        damaged = td.keys.reseal_all() if reseal else []
        for usage in td.keys.usage():
            active = " (active)" if usage.active else ""
            typer.echo(f"{usage.key_id}{active}: {usage.stored_values} stored values")
    for value in damaged:
        typer.echo(f"damaged (cannot be decrypted): {value.kind} {value.id}")
    if damaged:
        typer.echo(
            f"{len(damaged)} damaged values stay under their old key: authenticate the tokens "
            "again or type the secrets again, or retire the key with --accept-unreadable."
        )
