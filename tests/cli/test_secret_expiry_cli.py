"""The client secret's expiry day from the command line: given at create and edit, kept by
an edit that does not name it, forgotten on request; a wrong day is refused in plain words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.api import CLIENT_SECRET
from support.cli import Cli

JIRA = ("connections", "create", "--name", "Jira cloud", "--provider", "jira",
        "--grant-type", "authorization_code", "--client-id", "jira-client-id",
        "--client-secret-stdin")


def test_the_expiry_day_is_given_kept_changed_and_forgotten(cli: Cli) -> None:
    made = cli.json(*JIRA, "--client-secret-expires-on", "2027-06-30",
                    input=CLIENT_SECRET + "\n")
    assert made["client_secret_expires_on"] == "2027-06-30"

    kept = cli.json("connections", "edit", "Jira cloud", "--description", "Issues")
    assert kept["client_secret_expires_on"] == "2027-06-30"
    moved = cli.json("connections", "edit", "Jira cloud", "--client-secret-expires-on",
                     "2027-12-31")
    assert moved["client_secret_expires_on"] == "2027-12-31"
    forgotten = cli.json("connections", "edit", "Jira cloud", "--no-client-secret-expiry")
    assert forgotten["client_secret_expires_on"] is None


def test_a_day_that_is_no_date_is_refused_naming_the_option(cli: Cli) -> None:
    refused = cli(*JIRA, "--client-secret-expires-on", "30/06/2027", input=CLIENT_SECRET + "\n")

    assert refused.exit_code != 0
    assert "client_secret_expires_on" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_the_attention_command_lists_what_falls_due_within_the_horizon(cli: Cli) -> None:
    soon = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    cli.ok(*JIRA, "--client-secret-expires-on", soon, input=CLIENT_SECRET + "\n")

    listed = cli.json("attention")
    table = cli.ok("attention")
    beyond = cli.json("attention", "--horizon-days", "2")

    (item,) = listed["items"]
    assert (item["state"], item["connection"]) == ("secret_expiring", "Jira cloud")
    assert item["fix_url"].endswith("/connections/Jira%20cloud/edit")
    assert "Secret expiring" in table.stdout and f"Client secret expires on {soon}" in table.stdout
    assert beyond["items"] == [] and beyond["horizon_days"] == 2
    assert CLIENT_SECRET not in "".join(cli.transcript)
