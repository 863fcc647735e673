"""What every command shares: opening Tokendesk, printing, and mapping errors to exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer

from tokendesk.config import load_settings
from tokendesk.errors import (
    AuthenticationRequired,
    ConfigurationError,
    Conflict,
    DatabaseUnavailable,
    NotFound,
    PermissionDenied,
    TokendeskError,
    ValidationError,
)
from tokendesk.services.wiring import Tokendesk, build

P = ParamSpec("P")
R = TypeVar("R")

# One place mapping the error tree to exit codes (sysexits-style where one fits).
EXIT_CODES: tuple[tuple[type[TokendeskError], int], ...] = (
    (ValidationError, 2),
    (NotFound, 3),
    (Conflict, 4),
    (PermissionDenied, 5),
    (AuthenticationRequired, 5),
    (DatabaseUnavailable, 69),
    (ConfigurationError, 78),
)


def exit_code_for(exc: TokendeskError) -> int:
    return next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), 1)


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a Tokendesk error into one line on stderr and a non-zero exit code."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except TokendeskError as exc:
            where = f" ({exc.field})" if exc.field else ""
            typer.echo(f"error{where}: {exc.message}", err=True)
            raise typer.Exit(exit_code_for(exc)) from None

    return wrapper


@contextmanager
def open_tokendesk(*, create_missing: bool = False) -> Iterator[Tokendesk]:
    """Tokendesk built from the environment's settings, closed afterwards."""
    td = build(load_settings(), create_missing=create_missing)
    try:
        yield td
    finally:
        td.close()


def read_secret(prompt: str, from_stdin: bool) -> str:
    """A secret from stdin (one line) or a hidden prompt; never from an argument."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt(prompt, hide_input=True)
    return value


def emit(data: Any, as_json: bool, columns: Sequence[str] | None = None) -> None:
    """Print ``data`` as JSON, or as a plain table of ``columns`` for people."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    rows = data if isinstance(data, list) else [data]
    if not rows:
        typer.echo("(none)")
        return
    if columns is None or not isinstance(data, list):
        for key, value in (rows[0].items() if isinstance(rows[0], dict) else []):
            typer.echo(f"{key:>20}  {_cell(value)}")
        return
    widths = [max(len(c), *(len(_cell(r.get(c))) for r in rows)) for c in columns]
    typer.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        typer.echo("  ".join(_cell(row.get(c)).ljust(w) for c, w in zip(columns, widths, strict=True)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)
