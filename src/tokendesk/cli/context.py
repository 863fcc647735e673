"""What every command shares: opening Tokendesk, reading secrets, asking, printing, and
mapping errors to exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from typing import Annotated, Any, ParamSpec, TypeVar

import pydantic
import typer
from pydantic import BaseModel

from tokendesk.cli.exit_codes import (
    CANCELLED_EXIT_CODE,
    UNEXPECTED_EXIT_CODE,
    exit_code_for,
)
from tokendesk.config import load_settings
from tokendesk.domain.principal import Principal, command_line_principal
from tokendesk.errors import TokendeskError, ValidationError
from tokendesk.wiring import Tokendesk, build

P = ParamSpec("P")
R = TypeVar("R")

# Set on a command wrapped by handle_errors (a test checks every registered command is).
HANDLES_ERRORS = "__tokendesk_handles_errors__"

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (the REST API's shapes).")]


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn any error into one line ``error: ...`` on stderr and a non-zero exit code.

    Input models that refuse a value (pydantic) count as validation errors; only their
    message and field are shown, never the value, which may be a secret. Anything
    unexpected shows its type only, for the same reason.
    """

    if getattr(command, HANDLES_ERRORS, False):
        return command

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except TokendeskError as exc:
            where = f" ({exc.field})" if exc.field else ""
            raise report(f"error{where}: {exc.message}", exit_code_for(exc)) from None
        except pydantic.ValidationError as exc:
            raise report(_pydantic_line(exc), exit_code_for(ValidationError)) from None
        except Exception as exc:
            if _is_command_line_signal(exc):
                raise
            # A bug: say so in one line, without the text, which could carry a value.
            line = (f"error: unexpected {type(exc).__name__}; nothing more is shown because "
                    "the details could hold a secret.")
            raise report(line, UNEXPECTED_EXIT_CODE) from None

    setattr(wrapper, HANDLES_ERRORS, True)
    return wrapper


def _is_command_line_signal(exc: Exception) -> bool:
    """Exit, Abort and usage errors of Typer (which bundles its own click) or click."""
    return type(exc).__module__.split(".")[0] in ("typer", "click")


def report(line: str, code: int) -> typer.Exit:
    """Print one ``error: ...`` line on stderr; return the Exit to raise with ``code``."""
    typer.echo(_one_line(line), err=True)
    return typer.Exit(code)


def _pydantic_line(exc: pydantic.ValidationError) -> str:
    first = exc.errors(include_input=False, include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"])
    where = f" ({field})" if field else ""
    return f"error{where}: {first['msg']}."


@contextmanager
def open_tokendesk(*, create_missing: bool = False,
                   migrate_schema: bool = False) -> Iterator[Tokendesk]:
    """Tokendesk built from the environment's settings, closed afterwards.

    Without ``create_missing`` an absent key ring or database schema is an error rather than
    a new one: only ``init`` and ``admin create`` set an installation up. Without
    ``migrate_schema`` a schema that is behind is refused (SchemaBehind), changing nothing:
    only ``serve`` and ``migrate`` upgrade it.
    """
    td = build(load_settings(), create_missing=create_missing, migrate_schema=migrate_schema)
    try:
        yield td
    finally:
        td.close()


def operator() -> Principal:
    """The operator at the server's command line, who acts with every permission."""
    return command_line_principal()


# --- reading from the person at the terminal ------------------------------------------------


def read_secret(prompt: str, from_stdin: bool, *, stdin_option: str,
                confirm: bool = False) -> str:
    """A secret from one line of stdin or a hidden prompt (typed twice with ``confirm``);
    never from an argument, which shell history and process listings would keep.

    Raises ValidationError when there is nobody to ask (stdin closed).
    """
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    try:
        value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    except typer.Abort:
        raise ValidationError(
            f"No {prompt.lower()} was typed: type it at the prompt, or pipe it in on one "
            f"line with {stdin_option}."
        ) from None
    return value


def confirm(question: str, *, what: str) -> None:
    """Ask ``question``; return on yes.

    Raises ValidationError when stdin is closed (scripts must pass --yes) and exits with
    CANCELLED_EXIT_CODE on no.
    """
    try:
        agreed = typer.confirm(question, default=False, err=True)
    except typer.Abort:
        typer.echo("", err=True)  # end the prompt's line
        raise ValidationError(
            f"Nothing was deleted: confirm at the prompt, or pass --yes to delete {what} "
            "without asking."
        ) from None
    if not agreed:
        typer.echo("Cancelled; nothing was deleted.", err=True)
        raise typer.Exit(CANCELLED_EXIT_CODE)


def parse_time(value: str | None, *, field: str) -> datetime | None:
    """An ISO 8601 date or time; one without a zone is UTC. Raises ValidationError."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            f"'{value[:40]}' is not an ISO 8601 date or time such as 2024-05-01T12:00:00Z.",
            field=field,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def split_pairs(pairs: Iterable[str], *, field: str) -> dict[str, str]:
    """``NAME=VALUE`` options as a dict. Raises ValidationError for one without ``=``."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValidationError(f"'{pair[:60]}' is not NAME=VALUE.", field=field)
        found[name.strip()] = value
    return found


# --- printing --------------------------------------------------------------------------------

Shown = BaseModel | Sequence[BaseModel]


def emit(data: Shown, as_json: bool, columns: Sequence[str] | None = None) -> None:
    """Print ``data`` as JSON (``--json``), or for people: a list as a table of ``columns``,
    one record as ``label: value`` lines."""
    if as_json:
        print_json(data)
    elif isinstance(data, BaseModel):
        print_record(data.model_dump())
    else:
        rows = [item.model_dump() for item in data]
        print_table(rows, columns or (list(rows[0]) if rows else []))


def print_json(data: Shown) -> None:
    if isinstance(data, BaseModel):
        payload: Any = data.model_dump(mode="json")
    else:
        payload = [item.model_dump(mode="json") for item in data]
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))


def print_json_lines(items: Iterable[BaseModel]) -> None:
    """One compact JSON object per line (JSON Lines), for export."""
    for item in items:
        typer.echo(json.dumps(item.model_dump(mode="json"), ensure_ascii=False,
                              separators=(",", ":")))


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                max_width: int = 60) -> None:
    if not rows:
        typer.echo("(none)")
        return
    cells = [[_clip(cell(row.get(c)), max_width) for c in columns] for row in rows]
    headers = [c.upper().replace("_", " ") for c in columns]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    for line in (headers, *cells):
        typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def print_record(record: Mapping[str, Any]) -> None:
    width = max((len(k) for k in record), default=0) + 1
    for key, value in record.items():
        label = (key.replace("_", " ") + ":").ljust(width + 1)
        lines = cell(value, multiline=True).split("\n")
        typer.echo((label + lines[0]).rstrip())
        for more in lines[1:]:
            typer.echo((" " * len(label) + more).rstrip())


def cell(value: Any, *, multiline: bool = False) -> str:
    """A value as people read it; control characters are shown escaped, never sent to the
    terminal (a stored text must not be able to move the cursor or change colours)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={cell(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(cell(v) for v in value) or "-"
    return _escaped(str(value), keep_newlines=multiline)


def _escaped(text: str, *, keep_newlines: bool) -> str:
    return "".join(
        ch if ch.isprintable() or (keep_newlines and ch == "\n")
        else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())
