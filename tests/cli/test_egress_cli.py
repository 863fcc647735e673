"""``tokendesk settings egress``: the stored egress allowlist from the command line."""

from __future__ import annotations

from sqlalchemy import select

from support.cli import Cli, one_error_line
from tokendesk.storage.tables import audit_events
from tokendesk.views.settings import EgressAllowlistOut
from tokendesk.wiring import Tokendesk


def test_entries_are_added_removed_replaced_and_shown(cli: Cli, td: Tokendesk) -> None:
    empty = cli.json("settings", "egress", "show")
    added = cli.json("settings", "egress", "add", "10.20.0.0/16,idp.corp.example", "[fd12::1]")
    removed = cli.json("settings", "egress", "remove", "fd12:0::1")
    replaced = cli.json("settings", "egress", "set", "192.168.1.10")
    shown = cli.ok("settings", "egress", "show").stdout
    cleared = cli.json("settings", "egress", "set")

    assert set(empty) == set(EgressAllowlistOut.model_fields)
    assert empty["allowlist"] == [] and empty["environment_allowlist"] == []
    assert added["allowlist"] == ["10.20.0.0/16", "idp.corp.example", "fd12::1"]
    assert removed["allowlist"] == ["10.20.0.0/16", "idp.corp.example"]
    assert replaced["allowlist"] == ["192.168.1.10"] and replaced["updated_by"] == "cli"
    assert "192.168.1.10" in shown
    assert cleared["allowlist"] == []
    with td.engine.connect() as conn:
        actions = conn.execute(select(audit_events.c.actor).where(
            audit_events.c.action == "settings.egress_allowlist.update")).scalars().all()
    assert actions == ["cli"] * 4


def test_bad_entries_are_named_and_change_nothing(cli: Cli) -> None:
    cli.ok("settings", "egress", "add", "10.0.0.0/8")

    bad_range = cli("settings", "egress", "add", "10.0.0.0/33")
    metadata = cli("settings", "egress", "set", "169.254.169.254")
    not_stored = cli("settings", "egress", "remove", "192.168.0.0/16")

    assert bad_range.exit_code == metadata.exit_code == not_stored.exit_code == 2
    assert "'10.0.0.0/33' is not a valid CIDR range" in one_error_line(bad_range)
    assert "'169.254.169.254' includes link-local" in one_error_line(metadata)
    assert "'192.168.0.0/16' is not in the stored egress allowlist" in one_error_line(not_stored)
    assert cli.json("settings", "egress", "show")["allowlist"] == ["10.0.0.0/8"]
