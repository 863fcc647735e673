"""Issue 12 from the command line: Genesys Cloud's region is a choice from the documented
list (https://developer.genesys.cloud/platform/api/), shown by ``providers show`` and checked
by ``connections create``; and Genesys says it cannot revoke a token."""

from __future__ import annotations

from support.cli import Cli, one_error_line


def test_providers_show_lists_every_genesys_region_with_its_login_host(cli: Cli) -> None:
    described = cli.ok("providers", "show", "genesys").stdout

    assert "<region>  Genesys Cloud region" in described
    for value, label in [("mypurecloud.com", "Americas (US East) us-east-1"),
                         ("use2.us-gov-pure.cloud", "Americas (US East 2, FedRAMP) us-east-2"),
                         ("mypurecloud.com.au", "Asia Pacific (Sydney) ap-southeast-2"),
                         ("apne3.pure.cloud", "Asia Pacific (Osaka) ap-northeast-3")]:
        assert f"      {value:<26}{label}" in described
    assert "Genesys Cloud offers no revocation endpoint" in described


def test_a_genesys_region_outside_the_list_is_refused_naming_the_allowed_ones(cli: Cli) -> None:
    result = cli("connections", "create", "--name", "Contact centre", "--provider", "genesys",
                 "--grant-type", "client_credentials", "--client-id", "gc-client",
                 "--placeholder", "region=usw9.pure.cloud", "--client-secret-stdin",
                 input="s3cret\n")

    assert result.exit_code == 2
    line = one_error_line(result)
    assert "'usw9.pure.cloud' is not a Genesys Cloud region" in line
    assert "mypurecloud.de (EMEA (Frankfurt) eu-central-1)" in line
    assert cli.json("connections", "list") == []


def test_a_genesys_connection_in_frankfurt_signs_in_at_mypurecloud_de(cli: Cli) -> None:
    cli.ok("connections", "create", "--name", "Contact centre", "--provider", "genesys",
           "--grant-type", "client_credentials", "--client-id", "gc-client",
           "--placeholder", "region=mypurecloud.de", "--client-secret-stdin", input="s3cret\n")

    shown = cli.json("connections", "show", "Contact centre")

    assert shown["token_url"] == "https://login.mypurecloud.de/oauth/token"
