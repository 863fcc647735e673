"""The egress allowlist an administrator types is checked strictly, and adds to the
environment's allowlist."""

from __future__ import annotations

import ipaddress

import pytest

from tokendesk.domain.egress import (
    EgressPolicy,
    allowlist_entries,
    blocked_reason,
    environment_entries,
)
from tokendesk.errors import ValidationError


def test_entries_are_normalised_and_deduplicated() -> None:
    entries = allowlist_entries(
        ["IDP.Corp.Example.", "10.20.0.0/16, 192.168.1.10", "[fd12::1]", "10.20.0.0/16",
         "fd12:0:0:0:0:0:0:0/64", " ", "127.0.0.1/32"], field="allowlist")

    assert entries == ("idp.corp.example", "10.20.0.0/16", "192.168.1.10", "fd12::1",
                       "fd12::/64", "127.0.0.1")


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("not a host", "'not a host' is neither a host name, an IP address nor a CIDR range"),
        ("10.0.0.0/33", "'10.0.0.0/33' is not a valid CIDR range"),
        ("10.0.0.256", "'10.0.0.256' is neither"),
        ("idp_corp!", "'idp_corp!' is neither"),
        ("http://idp.corp.example", "'http://idp.corp.example' is a URL; enter only its host name"),
        ("10.0.0.1/8", "'10.0.0.1/8' has bits set after the prefix; did you mean 10.0.0.0/8?"),
        ("*.corp.example", "'*.corp.example': the egress allowlist takes exact host names"),
        ("::ffff:10.0.0.1", "allowlist the IPv4 address 10.0.0.1 instead"),
        ("169.254.169.254", "'169.254.169.254' includes link-local or cloud metadata"),
        ("169.254.0.0/16", "'169.254.0.0/16' includes link-local or cloud metadata"),
        ("0.0.0.0/0", "'0.0.0.0/0' includes link-local or cloud metadata"),
        ("fd00:ec2::/32", "'fd00:ec2::/32' includes link-local or cloud metadata"),
        ("::/0", "'::/0' includes link-local or cloud metadata"),
    ],
)
def test_a_bad_entry_is_refused_naming_the_value(typed: str, named: str) -> None:
    with pytest.raises(ValidationError) as refused:
        allowlist_entries(["10.0.0.0/8", typed], field="allowlist")

    assert named in refused.value.message
    assert refused.value.field == "allowlist"


def test_the_list_is_limited_before_any_entry_is_checked() -> None:
    with pytest.raises(ValidationError) as refused:
        allowlist_entries(",".join(["bad entry"] * 201), field="allowlist")

    assert "limited to 200 entries" in refused.value.message


def test_the_policy_in_force_allows_what_either_part_allows() -> None:
    environment = EgressPolicy.parse("127.0.0.1, idp.env.example")
    stored = EgressPolicy.parse(allowlist_entries("10.20.0.0/16, idp.corp.example",
                                                  field="allowlist"))

    both = environment.union(stored)

    assert both.address_allowed(ipaddress.ip_address("127.0.0.1"))
    assert both.address_allowed(ipaddress.ip_address("10.20.3.4"))
    assert not both.address_allowed(ipaddress.ip_address("10.21.0.1"))
    assert not both.address_allowed(ipaddress.ip_address("169.254.169.254"))
    assert both.host_allowed("idp.env.example") and both.host_allowed("IDP.corp.example.")
    assert environment.union(EgressPolicy()) == environment


def test_the_environment_part_is_shown_as_it_is_read() -> None:
    assert environment_entries(" 127.0.0.1, IDP.Example ,,127.0.0.1") == ("127.0.0.1",
                                                                          "idp.example")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("2002:a9fe:a9fe::1", "link-local or cloud metadata (embedded IPv4 169.254.169.254)"),
        ("2002:a00:1::1", "private (embedded IPv4 10.0.0.1)"),
        ("2002:7f00:1::", "loopback (embedded IPv4 127.0.0.1)"),
        ("64:ff9b::a9fe:a9fe", "link-local or cloud metadata (embedded IPv4 169.254.169.254)"),
        ("64:ff9b::c0a8:101", "private (embedded IPv4 192.168.1.1)"),
        ("64:ff9b:1::a9fe:a9fe", "local-use NAT64"),
        ("64:ff9b:1::808:808", "local-use NAT64"),
        ("fec0::1", "site-local"),
        ("fd00:ec2::254", "link-local or cloud metadata"),
    ],
)
def test_ipv6_forms_that_carry_or_hide_a_blocked_address_are_refused(
    address: str, reason: str
) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason
    assert not EgressPolicy().address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["2002:808:808::1", "64:ff9b::808:808", "8.8.8.8"])
def test_6to4_and_nat64_of_a_public_address_count_as_that_public_address(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == ""


@pytest.mark.parametrize("typed", ["2002:a9fe::/32", "2002::/16", "64:ff9b::a9fe:a9fe",
                                   "64:ff9b::/96", "64:ff9b:1::/48"])
def test_metadata_hidden_in_6to4_or_nat64_cannot_be_allowlisted(typed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        allowlist_entries([typed], field="allowlist")

    assert "includes link-local or cloud metadata" in refused.value.message


def test_a_blocked_literal_hidden_in_6to4_is_refused_at_save_time_by_its_reason() -> None:
    with pytest.raises(ValidationError) as refused:
        EgressPolicy().check_literal("[2002:a9fe:a9fe::1]", field="token_url")

    assert "link-local or cloud metadata (embedded IPv4 169.254.169.254) address" in (
        refused.value.message)
