"""``tokendesk export`` and ``tokendesk apply``: the desk as code.

``export`` writes the desk as a desk file (YAML; secrets as references such as
``{env: TOKENDESK_SECRET_<CONNECTION>}``, never values); ``apply -f FILE --dry-run`` prints
the plan and changes nothing; ``apply -f FILE`` applies it in one transaction.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tokendesk.cli.context import open_tokendesk, operator
from tokendesk.errors import DeskFileInvalid
from tokendesk.services.desk.file import published_schema, schema_text
from tokendesk.services.desk.plan import Plan, PlannedChange
from tokendesk.services.desk.references import SecretReader
from tokendesk.services.desk.yaml_text import dump_desk_file, load_desk_file

EXPORT_HELP = "Write the desk as a desk file (YAML); secrets as references, never values."
MARKS = {"create": "+", "update": "~", "delete": "-"}


def export(
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write to this file instead of printing.")] = None,
    schema: Annotated[bool, typer.Option(
        "--schema", help="Print the desk file's JSON Schema instead.")] = False,
) -> None:
    """Write the desk as a desk file: connections, custom roles, webhooks, egress allowlist,
    forward proxy and SMTP server. Secrets appear as {env: TOKENDESK_SECRET_...} references
    to set where the file is applied."""
    if schema:
        text = schema_text(published_schema())
    else:
        with open_tokendesk() as td:
            text = dump_desk_file(td.desk.export(operator()))
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"Desk file written to {output}.", err=True)


def apply(
    file: Annotated[str, typer.Option(
        "--file", "-f", metavar="FILE", help="The desk file (YAML or JSON); - reads stdin.")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the plan and change nothing.")] = False,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Delete connections, custom roles and webhooks the file leaves out."
    )] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Apply a desk file in one transaction (or with --dry-run only print the plan).

    Secret references are read on this machine: {env: NAME} from the environment, {file:
    path} from a file (relative to the desk file's folder). Any invalid entry stops
    everything: nothing is changed, and the error names the entry and field."""
    text, folder = _read(file)
    desk = load_desk_file(text)
    reader = SecretReader(os.environ, folder)
    with open_tokendesk() as td:
        plan = td.desk.apply(operator(), desk, reader, dry_run=dry_run, prune=prune)
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, "applied": not dry_run, **plan.as_json()},
                              indent=2, ensure_ascii=False))
        return
    print_plan(plan, dry_run=dry_run)


def _read(file: str) -> tuple[str, Path]:
    if file == "-":
        return sys.stdin.read(), Path.cwd()
    path = Path(file).expanduser()
    try:
        return path.read_text(encoding="utf-8"), path.resolve().parent
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise DeskFileInvalid(f"The desk file {file} cannot be read ({reason}).",
                              field="file") from None


def print_plan(plan: Plan, *, dry_run: bool) -> None:
    """The plan for people: one line per entry, one indented line per field."""
    for change in plan.changes:
        typer.echo(f"{MARKS[change.action]} {change.action} {change.kind.replace('_', ' ')} "
                   f"'{change.name}'")
        for line in _field_lines(change):
            typer.echo(f"    {line}")
    for name in plan.kept:
        typer.echo(f"  keep {name} (not in the file; --prune deletes it)")
    counts = plan.summary()
    if plan.empty:
        typer.echo("No changes: the desk is as the file says.")
    else:
        verb = "Would" if dry_run else "Done:"
        typer.echo(f"{verb} create {counts['create']}, change {counts['update']}, delete "
                   f"{counts['delete']}; {len(plan.unchanged)} unchanged."
                   + (" Nothing was changed (dry run)." if dry_run else ""))


def _field_lines(change: PlannedChange) -> list[str]:
    lines = []
    for field in change.fields:
        if field.secret is not None:
            lines.append(f"{field.field}: {field.secret}")
        elif change.action == "create":
            lines.append(f"{field.field}: {_shown(field.new)}")
        else:
            lines.append(f"{field.field}: {_shown(field.old)} -> {_shown(field.new)}")
    return lines


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 200 else text[:197] + "..."
