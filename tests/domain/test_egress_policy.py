"""The egress allowlist an administrator types is checked strictly, and adds to the
environment's allowlist."""

from __future__ import annotations

import ipaddress

import pytest

from tokendesk.domain.egress import EgressPolicy, allowlist_entries, environment_entries
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
