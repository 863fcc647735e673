"""``tokendesk tokens import``: bring tokens in from another token store without a new
consent. Each refresh token is proven with one refresh at the provider and stored only if
the provider accepts it. Refresh tokens are read from a file or standard input, never from
the command line (where other users of the machine could see them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel

from tokendesk.cli.context import JsonFlag, emit, open_tokendesk, operator, report
from tokendesk.cli.exit_codes import USAGE_EXIT_CODE, exit_code_for
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind
from tokendesk.errors import TokendeskError
from tokendesk.tokens.importing import TokenImport, TokenImporter

HELP = "Bring tokens in from another token store, without asking anyone to consent again."

ConnectionOption = Annotated[str, typer.Option("--connection", help="The connection's name.")]
FileOption = Annotated[Path | None, typer.Option(
    "--file", "-f", help="Where to read from; standard input when absent or '-'.")]


class ImportLineOut(BaseModel):
    """The outcome of one imported token (never the token)."""

    line: int
    token_type: str
    user: str | None
    imported: bool
    message: str


def import_tokens(
    connection: ConnectionOption,
    token_type: Annotated[str | None, typer.Option(
        "--token-type", help="shared or user: the input is one refresh token. Without it "
        'the input is JSON Lines, one {"token_type", "user", "refresh_token"} a line.')] = None,
    user: Annotated[str | None, typer.Option(
        "--user", help="Whose token (with --token-type user).")] = None,
    file: FileOption = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Put an imported token in place of one already there.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import refresh tokens; each is proven with one refresh at the provider first."""
    text = _read(file)
    items = [(1, _single(text, token_type, user))] if token_type else _lines(text)
    with open_tokendesk() as td:
        outcomes = [_import_one(td.importer, connection, n, item, replace) for n, item in items]
    failures = [code for _, code in outcomes if code]
    emit([out for out, _ in outcomes], as_json, ("line", "token_type", "user", "imported",
                                                 "message"))
    if failures:
        raise typer.Exit(failures[0])


def _import_one(importer: TokenImporter, connection: str, line: int,
                item: TokenImport | TokendeskError, replace: bool) -> tuple[ImportLineOut, int]:
    if isinstance(item, TokendeskError):
        return ImportLineOut(line=line, token_type="?", user=None, imported=False,
                             message=item.message), USAGE_EXIT_CODE
    try:
        stored = importer.import_token(operator(), connection, item, replace=replace)
    except TokendeskError as exc:
        return (ImportLineOut(line=line, token_type=item.kind.value, user=item.username,
                              imported=False, message=exc.message), exit_code_for(exc))
    until = f" valid until {stored.expires_at:%Y-%m-%d %H:%M} UTC" if stored.expires_at else ""
    return (ImportLineOut(line=line, token_type=item.kind.value, user=item.username,
                          imported=True, message=f"Imported and proven;{until}."), 0)


def _read(file: Path | None) -> str:
    if file is None or str(file) == "-":
        return sys.stdin.read()
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise report(f"cannot read {file}: {exc.strerror}", USAGE_EXIT_CODE) from exc


def _single(text: str, token_type: str, user: str | None) -> TokenImport:
    kind = _kind(token_type)
    if kind is None:
        raise report("--token-type must be shared or user", USAGE_EXIT_CODE)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise report("with --token-type, give exactly one refresh token (one line)",
                     USAGE_EXIT_CODE)
    return TokenImport(kind, Secret(lines[0]), user)


def _lines(text: str) -> list[tuple[int, TokenImport | TokendeskError]]:
    items: list[tuple[int, TokenImport | TokendeskError]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            items.append((number, _parse(line)))
    if not items:
        raise report("the input holds no token to import", USAGE_EXIT_CODE)
    return items


def _parse(line: str) -> TokenImport | TokendeskError:
    """One JSON Lines entry; an error naming what is wrong (never echoing the line, which
    holds a secret)."""
    try:
        doc = json.loads(line)
    except ValueError:
        return TokendeskError("not a JSON object")
    if not isinstance(doc, dict):
        return TokendeskError("not a JSON object")
    unknown = sorted(set(doc) - {"token_type", "user", "refresh_token"})
    if unknown:
        return TokendeskError(f"unknown fields: {', '.join(unknown)}")
    kind = _kind(doc.get("token_type"))
    token, user = doc.get("refresh_token"), doc.get("user")
    if kind is None:
        return TokendeskError('"token_type" must be "shared" or "user"')
    if not isinstance(token, str):
        return TokendeskError('"refresh_token" must be a string')
    if user is not None and not isinstance(user, str):
        return TokendeskError('"user" must be a string')
    return TokenImport(kind, Secret(token), user)


def _kind(value: object) -> TokenKind | None:
    if not isinstance(value, str):
        return None
    try:
        return TokenKind(value)
    except ValueError:
        return None
