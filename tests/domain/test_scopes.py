"""Scopes as people type them, and as they go on the wire (RFC 6749 §3.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokendesk.domain.scopes import (
    MAX_SCOPE_CHARS,
    MAX_SCOPES,
    MAX_SCOPES_TOTAL_CHARS,
    format_scopes,
    parse_scopes,
)
from tokendesk.errors import ValidationError

# RFC 6749 §3.3 scope-token characters, less the comma that people type between scopes.
SCOPE_ALPHABET = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\,')
SEPARATORS = (" ", ",", ", ", "\n", "\t", " , ")

scope = st.text(alphabet=SCOPE_ALPHABET, min_size=1, max_size=40)
scope_lists = st.lists(scope, max_size=30)


def dedup(scopes: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(scopes))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("api,refresh_token,offline_access", ("api", "refresh_token", "offline_access")),
        (
            "offline_access write:jira-work,read:jira-user",
            ("offline_access", "write:jira-work", "read:jira-user"),
        ),
        ("  a , b ,, a  ", ("a", "b")),
        ("a\r\nb\tc", ("a", "b", "c")),
        (["a b", "c,d", "a"], ("a", "b", "c", "d")),
        (("https://graph.microsoft.com/.default",), ("https://graph.microsoft.com/.default",)),
        ("", ()),
        (" , ,", ()),
        ([], ()),
        (None, ()),
    ],
)
def test_typed_scopes_are_split_stripped_and_deduplicated(
    typed: str | list[str] | tuple[str, ...] | None, expected: tuple[str, ...]
) -> None:
    assert parse_scopes(typed) == expected


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ('say"hi"', "'\"'"),
        ("back\\slash", "'\\\\'"),
        ("café", "non-ASCII"),
        ("a\x00b", "control character"),
        ("a\x0bb", "control character"),
        ("a\x7fb", "control character"),
        ("a\u00a0b", "non-ASCII"),
    ],
)
def test_a_scope_outside_the_rfc_grammar_is_refused(typed: str, said: str) -> None:
    with pytest.raises(ValidationError, match="RFC 6749") as refused:
        parse_scopes(typed)
    assert said in refused.value.message


def test_the_refusal_names_the_field_it_was_given() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_scopes('"', field="default_scopes")
    assert refused.value.field == "default_scopes"


def test_a_scope_longer_than_the_limit_is_refused() -> None:
    assert parse_scopes("a" * MAX_SCOPE_CHARS) == ("a" * MAX_SCOPE_CHARS,)
    with pytest.raises(ValidationError, match=str(MAX_SCOPE_CHARS)):
        parse_scopes("a" * (MAX_SCOPE_CHARS + 1))


def test_more_scopes_than_the_limit_are_refused() -> None:
    assert len(parse_scopes([f"s{i}" for i in range(MAX_SCOPES)])) == MAX_SCOPES
    with pytest.raises(ValidationError, match=str(MAX_SCOPES)):
        parse_scopes([f"s{i}" for i in range(MAX_SCOPES + 1)])


def test_repeated_scopes_count_once_towards_the_limit() -> None:
    assert parse_scopes(["api"] * (MAX_SCOPES * 2)) == ("api",)


def test_scopes_longer_than_the_total_limit_are_refused() -> None:
    long_scopes = [f"{i:03d}" + "x" * 446 for i in range(9)]  # 9 x 450 + 8 spaces
    with pytest.raises(ValidationError, match=str(MAX_SCOPES_TOTAL_CHARS)):
        parse_scopes(long_scopes)


@pytest.mark.parametrize("value", [42, b"api", ["api", 7], {"api": 1}, 3.5])
def test_a_value_that_is_not_text_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        parse_scopes(value)  # type: ignore[arg-type]


def test_format_joins_with_the_provider_separator() -> None:
    assert format_scopes(("api", "refresh_token")) == "api refresh_token"
    assert format_scopes(["a", "b"], ",") == "a,b"
    assert format_scopes(()) == ""


def test_format_refuses_one_string_that_would_be_spelled_out() -> None:
    with pytest.raises(TypeError):
        format_scopes("api")


@given(scope_lists, st.sampled_from(SEPARATORS))
def test_parse_reads_back_what_format_wrote(scopes: list[str], separator: str) -> None:
    assert parse_scopes(format_scopes(scopes, separator)) == dedup(scopes)


@given(scope_lists)
def test_a_list_and_its_formatted_string_parse_alike(scopes: list[str]) -> None:
    assert parse_scopes(scopes) == parse_scopes(format_scopes(scopes)) == dedup(scopes)


@given(st.one_of(st.text(), st.lists(st.text(), max_size=5)))
def test_any_text_is_either_scopes_or_a_validation_error(value: str | list[str]) -> None:
    try:
        scopes = parse_scopes(value)
    except ValidationError as refused:
        assert refused.field == "scopes"
        assert refused.message
        return
    assert len(scopes) == len(set(scopes))
    for item in scopes:
        assert item
        assert not any(char in ', \t\r\n"\\' for char in item)
        assert all(0x21 <= ord(char) <= 0x7E for char in item)
