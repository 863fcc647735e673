"""The workload rule language: equality, prefix and set membership on named claims, all of
which must hold, each read back in plain words."""

from __future__ import annotations

import pytest

from tokendesk.domain.workload import (
    WorkloadRule,
    check_algorithms,
    check_conditions,
    condition_of,
    looks_like_jwt,
    parse_condition,
)
from tokendesk.errors import ValidationError

GITHUB = {"iss": "https://token.actions.githubusercontent.com", "repository": "acme/robots",
          "ref": "refs/heads/main", "sub": "repo:acme/robots:ref:refs/heads/main"}


def rule(*texts: str) -> WorkloadRule:
    return WorkloadRule("r1", 1, tuple(parse_condition(t) for t in texts), None, None,
                        "robots", ("role-1",), ("Sales bots",))


def test_every_condition_must_hold() -> None:
    assert rule("repository==acme/robots", "ref^=refs/heads/").matches(GITHUB)
    assert not rule("repository==acme/robots", "ref==refs/heads/dev").matches(GITHUB)


def test_set_membership_and_prefix() -> None:
    assert rule("repository in acme/robots, acme/other").matches(GITHUB)
    assert not rule("repository in acme/other").matches(GITHUB)
    assert not rule("ref^=refs/tags/").matches(GITHUB)


def test_a_missing_or_non_text_claim_never_matches() -> None:
    assert not rule("environment==prod").matches(GITHUB)
    assert not rule("run_number==1").matches(GITHUB | {"run_number": 1})


def test_equality_is_not_a_prefix_match() -> None:
    assert not rule("repository==acme/robot").matches(GITHUB)


def test_a_rule_reads_in_plain_words_and_says_why_it_did_not_match() -> None:
    found = rule("repository==acme/robots", "ref^=refs/heads/", "environment in prod,staging")

    assert found.words() == (
        'When repository is "acme/robots" and ref starts with "refs/heads/" and environment '
        'is one of "prod", "staging", act as workload robots with roles: Sales bots.')
    assert found.why_not(GITHUB) == "the token has no claim environment"


def test_conditions_round_trip_through_their_json_form() -> None:
    for text in ("sub==a", "ref^=refs/", "aud in x,y"):
        condition = parse_condition(text)
        assert condition_of(condition.to_json()) == condition


@pytest.mark.parametrize("doc", [
    {"claim": "sub"},
    {"claim": "sub", "equals": "a", "prefix": "b"},
    {"claim": "sub", "equals": ""},
    {"claim": "sub", "one_of": "a"},
    {"claim": "bad claim", "equals": "a"},
    {"claim": "sub", "matches": ".*"},
])
def test_a_malformed_condition_is_refused_in_words(doc: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as refused:
        condition_of(doc)
    assert refused.value.field == "conditions"


def test_a_rule_without_conditions_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least one condition"):
        check_conditions(())


@pytest.mark.parametrize("alg", ["none", "HS256", "HS512", "RSA1_5"])
def test_none_and_hmac_algorithms_are_never_allowed(alg: str) -> None:
    with pytest.raises(ValidationError, match="never none, never an HMAC"):
        check_algorithms(["RS256", alg])


def test_the_default_algorithms_are_rs256_and_es256() -> None:
    assert check_algorithms([]) == ("RS256", "ES256")


def test_an_api_key_is_not_taken_for_a_jwt() -> None:
    assert looks_like_jwt("eyJh.eyJz.sig")
    assert not looks_like_jwt("td_0123456789ab_secret")
