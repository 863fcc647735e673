"""The ``tokendesk`` command; every sub-command is registered in cli/commands.py."""

from __future__ import annotations

from tokendesk.cli.commands import build_app

app = build_app()


def main() -> None:
    app()
