"""A connection's proxy from the command line: the password from stdin, never an argument,
never printed."""

from __future__ import annotations

from support.api import CLIENT_SECRET
from support.cli import Cli

PROXY_PASSWORD = "cli-pr0xy-pa55-word"
CREATE = ("connections", "create", "--name", "On-prem Jira", "--provider", "jira",
          "--grant-type", "authorization_code", "--client-id", "jira-client-id",
          "--client-secret-stdin")


def test_its_own_proxy_is_given_kept_and_dropped(cli: Cli) -> None:
    made = cli.json(*CREATE, "--proxy-mode", "own", "--proxy-url", "http://proxy.onprem.example:8080",
                    "--proxy-username", "svc-desk", "--proxy-password-stdin",
                    "--proxy-bypass", "*.internal.example, 10.0.0.0/8",
                    input=f"{CLIENT_SECRET}\n{PROXY_PASSWORD}\n")
    assert made["proxy_mode"] == "own"
    assert made["proxy_url"] == "http://proxy.onprem.example:8080"
    assert made["proxy_password_stored"] is True
    assert made["proxy_bypass"] == ["*.internal.example", "10.0.0.0/8"]

    kept = cli.json("connections", "edit", "On-prem Jira", "--description", "Issues")
    assert kept["proxy_mode"] == "own" and kept["proxy_password_stored"] is True
    direct = cli.json("connections", "edit", "On-prem Jira", "--proxy-mode", "none")
    assert direct["proxy_mode"] == "none" and direct["proxy_password_stored"] is False
    assert PROXY_PASSWORD not in "".join(cli.transcript)


def test_a_proxy_url_with_credentials_is_refused_naming_the_option(cli: Cli) -> None:
    refused = cli(*CREATE, "--proxy-mode", "own", "--proxy-url",
                  "http://svc:pw@proxy.example:8080", input=CLIENT_SECRET + "\n")

    assert refused.exit_code != 0
    assert "proxy_url" in refused.stderr
    assert "Traceback" not in refused.stderr
