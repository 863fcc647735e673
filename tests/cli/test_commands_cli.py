"""The command line is put together in one place (cli/commands.py) and every command answers
errors with the one exit-code table (cli/exit_codes.py), which ``tokendesk --help`` shows."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

import tokendesk.client.errors as sdk_errors
import tokendesk.errors as errors
from support.cli import Cli
from tokendesk.cli.attention import attention as attention_command
from tokendesk.cli.commands import COMMANDS, CommandLine, Group
from tokendesk.cli.context import HANDLES_ERRORS
from tokendesk.cli.exit_codes import (
    EXIT_CODES,
    OTHER_CODES,
    UNEXPECTED_EXIT_CODE,
    error_class_for_code,
    exit_code_for,
    exit_code_for_code,
    exit_code_row,
)
from tokendesk.cli.main import app

CLI_PACKAGE = Path(__file__).resolve().parents[2] / "src" / "tokendesk" / "cli"


def leaves(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every runnable command of the click tree under ``command``, with its path."""
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from leaves(sub, (*path, name))
    else:
        yield path, command


def registered(cli: CommandLine) -> set[tuple[str, ...]]:
    def walk(commands: tuple[tuple[str, Any], ...], groups: tuple[Group, ...],
             path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield from ((*path, name) for name, _ in commands)
        for group in groups:
            yield from walk(group.commands, group.groups, (*path, group.name))

    return set(walk(cli.commands, cli.groups, ()))


def error_classes() -> list[type[errors.TokendeskError]]:
    return [kind for _, kind in inspect.getmembers(errors, inspect.isclass)
            if issubclass(kind, errors.TokendeskError)]


def test_every_command_of_the_tree_comes_from_the_one_table_and_handles_errors() -> None:
    commands = dict(leaves(typer.main.get_command(app)))

    assert set(commands) == registered(COMMANDS)
    assert {("migrate",), ("connections", "test"), ("keys", "rotate"), ("token",)} <= set(commands)
    unwrapped = [path for path, command in commands.items()
                 if not getattr(command.callback, HANDLES_ERRORS, False)]
    assert unwrapped == []


@pytest.mark.parametrize("module", sorted(p.name for p in CLI_PACKAGE.glob("*.py")
                                          if p.name not in ("commands.py", "main.py")))
def test_no_module_builds_a_group_or_registers_a_command_itself(module: str) -> None:
    tree = ast.parse((CLI_PACKAGE / module).read_text())
    calls = {node.func.attr for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}

    assert calls & {"Typer", "command", "add_typer", "callback"} == set()


def test_every_error_class_has_its_row_in_the_exit_code_table() -> None:
    without_row = [kind.__name__ for kind in error_classes()
                   if kind is not errors.TokendeskError and exit_code_row(kind) is None]

    assert without_row == []
    assert exit_code_for(errors.TokendeskError("bug")) == UNEXPECTED_EXIT_CODE


def test_each_code_of_the_sdk_is_a_code_of_the_error_tree_or_has_its_own_exit_code() -> None:
    sdk_codes = set(sdk_errors.ERRORS_BY_CODE) | set(OTHER_CODES)

    unknown = [code for code in sdk_codes
               if error_class_for_code(code) is None and code not in OTHER_CODES]

    assert unknown == []
    assert exit_code_for_code("reauthentication_required") == exit_code_for(
        errors.ReauthenticationRequired) == 6
    assert exit_code_for_code("connection_not_found") == exit_code_for(errors.NotFound) == 3
    assert exit_code_for_code("transport_error") == 69
    assert exit_code_for_code("protocol_error") == 76
    assert exit_code_for_code("something_new") == UNEXPECTED_EXIT_CODE


def test_the_help_shows_every_exit_code(cli: Cli) -> None:
    shown = cli.ok("--help").stdout

    assert "Exit codes" in shown
    for _kind, code, meaning in EXIT_CODES:
        assert f"{code}  " in shown and meaning.split(" (")[0] in " ".join(shown.split())


def test_a_command_s_help_flows_to_the_terminal_instead_of_breaking_where_its_source_did(
    cli: Cli,
) -> None:
    doc = inspect.getdoc(attention_command) or ""
    assert "are\ndamaged" in doc  # the docstring breaks its first sentence after "are"

    for shown in (cli.ok("--help").stdout, cli.ok("attention", "--help").stdout):
        lines = [line.strip(" │") for line in shown.splitlines()]
        assert not any(line.endswith(" are") for line in lines), shown
        assert "consent, are damaged or backing off" in " ".join(" ".join(lines).split())
