"""Every ``tokendesk`` command, registered here and nowhere else.

The modules beside this one only define functions; this table says under which group and
name each one is reached, and wraps each in ``handle_errors`` so that every command answers
errors with the one exit-code table (cli/exit_codes.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import typer

from tokendesk.cli import (
    admin,
    api_proxy,
    attention,
    audit,
    connections,
    desk,
    encryption,
    keys,
    notifications,
    providers,
    roles,
    schema,
    serve,
    settings,
    token_import,
    tokens,
    users,
    workload,
)
from tokendesk.cli.context import handle_errors
from tokendesk.cli.exit_codes import epilog

Command = Callable[..., Any]


@dataclass(frozen=True)
class Group:
    """A sub-command group: ``tokendesk NAME COMMAND``."""

    name: str
    help: str
    commands: tuple[tuple[str, Command], ...]
    groups: tuple[Group, ...] = ()
    short_help: str | None = None


@dataclass(frozen=True)
class CommandLine:
    """The whole command line: top-level commands and groups."""

    commands: tuple[tuple[str, Command], ...]
    groups: tuple[Group, ...] = field(default_factory=tuple)


COMMANDS = CommandLine(
    commands=(
        ("serve", serve.serve),
        ("migrate", schema.migrate),
        ("init", admin.init),
        ("audit", audit.audit),
        ("attention", attention.attention),
        ("token", tokens.token),
        ("export", desk.export),
        ("apply", desk.apply),
        ("proxy", api_proxy.proxy),
    ),
    groups=(
        Group("admin", admin.HELP, (("create", admin.create_admin),)),
        Group("users", users.HELP, (
            ("list", users.list_users), ("create", users.create), ("edit", users.edit),
            ("disable", users.disable), ("enable", users.enable),
        )),
        Group("roles", roles.HELP, (
            ("list", roles.list_roles), ("create", roles.create), ("edit", roles.edit),
            ("delete", roles.delete),
        ), short_help=roles.SHORT_HELP),
        Group("keys", keys.HELP, (
            ("create", keys.create), ("list", keys.list_keys), ("revoke", keys.revoke),
            ("rotate", encryption.rotate), ("retire", encryption.retire),
            ("encryption", encryption.encryption),
        )),
        Group("connections", connections.HELP, (
            ("list", connections.list_connections), ("show", connections.show),
            ("create", connections.create), ("edit", connections.edit),
            ("delete", connections.delete), ("test", tokens.test_connection),
            ("authorize", tokens.authorize), ("tokens", tokens.token_statuses),
            ("refresh", tokens.refresh), ("disconnect", tokens.disconnect),
        )),
        Group("tokens", token_import.HELP, (("import", token_import.import_tokens),)),
        Group("workload-issuers", workload.HELP, (
            ("list", workload.list_issuers), ("show", workload.show), ("add", workload.add),
            ("edit", workload.edit), ("remove", workload.remove),
            ("add-rule", workload.add_rule), ("edit-rule", workload.edit_rule),
            ("remove-rule", workload.remove_rule),
        )),
        Group("webhooks", notifications.WEBHOOKS_HELP, (
            ("list", notifications.list_webhooks), ("create", notifications.create_webhook),
            ("delete", notifications.delete_webhook), ("test", notifications.test_webhook),
        )),
        Group("providers", providers.HELP, (
            ("list", providers.list_providers), ("show", providers.show),
        )),
        Group("settings", settings.HELP, (), groups=(
            Group("proxy", settings.PROXY_HELP, (
                ("show", settings.show), ("set", settings.set_proxy),
            )),
            Group("smtp", notifications.SMTP_HELP, (
                ("show", notifications.show_smtp), ("set", notifications.set_smtp),
            )),
            Group("egress", settings.EGRESS_HELP, (
                ("show", settings.show_egress), ("set", settings.set_egress),
                ("add", settings.add_egress), ("remove", settings.remove_egress),
            )),
        )),
    ),
)

HELP = ("Tokendesk: a self-hosted OAuth 2.0 connection desk. Commands act on the database "
        "configured by the TOKENDESK_* environment variables, as the operator at the command "
        "line. Only `serve` and `migrate` upgrade the database schema.")


def build_app(cli: CommandLine = COMMANDS) -> typer.Typer:
    """The ``tokendesk`` Typer application of ``cli``."""
    app = typer.Typer(
        help=HELP,
        epilog=epilog(),
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    _register(app, cli.commands, cli.groups)
    return app


def help_text(function: Command) -> str | None:
    """The command's docstring as its help: the lines of each paragraph joined, so the help
    flows to the terminal's width instead of breaking where the source did."""
    doc = inspect.getdoc(function)
    if doc is None:
        return None
    return "\n\n".join(" ".join(line.strip() for line in paragraph.splitlines())
                        for paragraph in doc.split("\n\n"))


def _register(app: typer.Typer, commands: tuple[tuple[str, Command], ...],
              groups: tuple[Group, ...]) -> None:
    for name, function in commands:
        app.command(name, help=help_text(function))(handle_errors(function))
    for group in groups:
        sub = typer.Typer(help=group.help, short_help=group.short_help, no_args_is_help=True)
        _register(sub, group.commands, group.groups)
        app.add_typer(sub, name=group.name)
