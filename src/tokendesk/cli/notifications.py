"""``tokendesk settings smtp``: the SMTP server of e-mail notifications;
``tokendesk webhooks``: signed notifications of token and connection events."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import SecretStr

from tokendesk.cli.context import JsonFlag, emit, open_tokendesk, operator, read_secret
from tokendesk.domain.events import EventKind
from tokendesk.errors import ValidationError
from tokendesk.services.inputs import SmtpSettingsInput, WebhookCreate
from tokendesk.views.notifications import DeliveryOut, NewWebhookOut, SmtpOut, WebhookOut

SMTP_HELP = ("The SMTP server e-mail notifications go through (to the users who can fix "
             "what happened: their e-mail address is set with `tokendesk users edit --email`).")
WEBHOOKS_HELP = "Webhooks: signed notifications of token and connection events."
WEBHOOK_COLUMNS = ("id", "url", "events", "enabled", "description")


def show_smtp(as_json: JsonFlag = False) -> None:
    """Show the SMTP settings (whether a password is stored, never the password)."""
    with open_tokendesk() as td, td.transaction() as tx:
        current = td.mail.settings(tx, operator())
    emit(SmtpOut.of(current), as_json)


def set_smtp(
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled")] = None,
    host: Annotated[str | None, typer.Option("--host")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535)] = None,
    starttls: Annotated[bool | None, typer.Option(
        "--starttls/--no-starttls", help="Upgrade the connection with STARTTLS (default).")
    ] = None,
    username: Annotated[str | None, typer.Option(
        "--username", help="Sign in with this user name; empty: no sign-in.")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the SMTP password from one line of standard input.")
    ] = False,
    new_password: Annotated[bool, typer.Option(
        "--new-password", help="Type the SMTP password at a hidden prompt.")] = False,
    from_address: Annotated[str | None, typer.Option(
        "--from", help="The sender address of the e-mails.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change the SMTP settings; options not given keep their current value, and the
    stored password stays unless a new one is given."""
    if password_stdin and new_password:
        raise ValidationError("Give --password-stdin or --new-password, not both.",
                              field="password")
    password = (SecretStr(read_secret("SMTP password", password_stdin,
                                          stdin_option="--password-stdin"))
                if password_stdin or new_password else None)
    with open_tokendesk() as td, td.transaction() as tx:
        current = td.mail.settings(tx, operator())
        data = SmtpSettingsInput(
            enabled=current.enabled if enabled is None else enabled,
            host=host if host is not None else current.host,
            port=port if port is not None else current.port,
            starttls=current.starttls if starttls is None else starttls,
            username=username if username is not None else current.username,
            password=password,
            from_address=from_address if from_address is not None else current.from_address,
        )
        saved = td.mail.save(tx, operator(), data)
    emit(SmtpOut.of(saved), as_json)


def list_webhooks(as_json: JsonFlag = False) -> None:
    """List the webhooks (never their signing secrets)."""
    with open_tokendesk() as td, td.transaction() as tx:
        found = [WebhookOut.of(w) for w in td.webhooks.all(tx, operator())]
    emit(found, as_json, WEBHOOK_COLUMNS)


def create_webhook(
    url: Annotated[str, typer.Argument(help="Where to POST the events (https).")],
    event: Annotated[list[str] | None, typer.Option(
        "--event", help="An event to send (repeat); all events when none is given: "
        + ", ".join(k.value for k in EventKind) + ".")] = None,
    description: Annotated[str, typer.Option("--description")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Register a webhook; prints its signing secret this once (store it at the receiver)."""
    events = event or [k.value for k in EventKind]
    with open_tokendesk() as td, td.transaction() as tx:
        created = td.webhooks.create(
            tx, operator(), WebhookCreate(url=url, events=events, description=description)
        )
    shown = WebhookOut.of(created.webhook)
    emit(NewWebhookOut(secret=created.secret.reveal(), **shown.model_dump()), as_json)
    if not as_json:
        typer.echo("The signing secret is shown this once; store it at the receiver.",
                   err=True)


def delete_webhook(
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id (see `webhooks list`).")],
) -> None:
    """Remove a webhook and its deliveries."""
    with open_tokendesk() as td, td.transaction() as tx:
        td.webhooks.delete(tx, operator(), webhook_id)
    typer.echo(f"Webhook {webhook_id} deleted.")


def test_webhook(
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id (see `webhooks list`).")],
    as_json: JsonFlag = False,
) -> None:
    """Send a signed ``webhook.test`` event now; shows the delivery and its attempt (retried
    later like any delivery when the receiver did not take it)."""
    with open_tokendesk() as td:
        with td.transaction() as tx:
            delivery_id = td.webhooks.queue_test(tx, operator(), webhook_id)
        taken = td.deliverer.send(delivery_id)
        with td.transaction(read_only=True) as tx:
            log = td.webhooks.delivery(tx, operator(), webhook_id, delivery_id)
    emit(DeliveryOut.of(log.delivery, log.attempts), as_json)
    if not taken:
        raise typer.Exit(1)
