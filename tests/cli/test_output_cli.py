"""How the command prints for people: tables, records, and nothing that drives the terminal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tokendesk.cli.context import cell, exit_code_for, print_record, print_table
from tokendesk.errors import (
    ConnectionNotFound,
    DecryptionError,
    DuplicateName,
    EncryptionKeyError,
    UnknownProvider,
)


def test_cells_escape_control_characters_instead_of_sending_them_to_the_terminal() -> None:
    assert cell("red\x1b[31m alert\r") == "red\\x1b[31m alert\\r"
    assert cell("two\nlines") == "two\\nlines"
    assert cell("two\nlines", multiline=True) == "two\nlines"


def test_cells_show_empty_values_booleans_times_lists_and_mappings_plainly() -> None:
    assert cell(None) == "-"
    assert (cell(True), cell(False)) == ("yes", "no")
    assert cell(datetime(2024, 5, 1, 12, 0, 5, 999, tzinfo=UTC)) == "2024-05-01 12:00:05Z"
    assert cell(["api", "refresh_token"]) == "api, refresh_token"
    assert cell([]) == "-"
    assert cell({"yourinstance": "acme"}) == "yourinstance=acme"


def test_tables_align_columns_under_upper_case_headers(capsys: pytest.CaptureFixture[str]) -> None:
    print_table([{"name": "Salesforce prod", "grant_type": "client_credentials"},
                 {"name": "Jira", "grant_type": None}], ("name", "grant_type"))
    print_table([], ("name",))

    assert capsys.readouterr().out.splitlines() == [
        "NAME             GRANT TYPE",
        "Salesforce prod  client_credentials",
        "Jira             -",
        "(none)",
    ]


def test_records_indent_the_lines_of_a_multi_line_value(capsys: pytest.CaptureFixture[str]) -> None:
    print_record({"name": "Jira", "description": "first\nsecond"})

    assert capsys.readouterr().out.splitlines() == [
        "name:        Jira",
        "description: first",
        "             second",
    ]


def test_exit_codes_follow_the_error_tree() -> None:
    assert exit_code_for(ConnectionNotFound("x")) == 3
    assert exit_code_for(DuplicateName("x")) == 4
    assert exit_code_for(UnknownProvider("x")) == 2
    assert exit_code_for(EncryptionKeyError) == 78
    assert exit_code_for(DecryptionError("x")) == 1
