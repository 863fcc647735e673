"""The webhook subscriptions of a desk file, planned and made through the webhook service.

A webhook has no name: an entry is the stored webhook of its ``id``, or (without one) the
stored webhook of its URL; the plan names it by its URL. Its signing secret is a reference,
compared by digest; the receiver holds it, so a webhook is created only with one given.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import Connection as Tx

from tokendesk.domain.principal import Principal
from tokendesk.domain.secret import Secret
from tokendesk.errors import DeskFileInvalid
from tokendesk.services.desk.file import DeskWebhook
from tokendesk.services.desk.plan import (
    FieldChange,
    Plan,
    PlannedChange,
    SecretVerdict,
    differences,
    entry,
)
from tokendesk.services.desk.references import SecretReader, same_secret
from tokendesk.services.inputs import WebhookCreate, WebhookUpdate
from tokendesk.services.webhooks import WebhookRecord, WebhookService


class DeskWebhooks:
    """Creates, changes and (with prune) deletes webhooks, in the caller's transaction."""

    def __init__(self, webhooks: WebhookService) -> None:
        self.webhooks = webhooks

    def apply(self, tx: Tx, actor: Principal, given: list[DeskWebhook], reader: SecretReader,
              plan: Plan) -> None:
        """Make the stored webhooks what ``given`` says; those it leaves out are deleted
        with prune, else listed as kept."""
        stored = self.webhooks.all(tx, actor)
        matched = _match(given, stored)
        for index, wanted in enumerate(given):
            where = f"webhooks[{index}] '{wanted.url[:60]}'"
            with entry(where):
                secret = (reader.read(wanted.signing_secret, f"{where}.signing_secret")
                          if wanted.signing_secret is not None else None)
                current = matched.get(index)
                change = (self._create(tx, actor, wanted, secret) if current is None
                          else self._update(tx, actor, current, wanted, secret))
            if change is None:
                plan.unchanged.append(f"webhook '{wanted.url}'")
            else:
                plan.changes.append(change)
        kept = {w.id for w in matched.values()}
        for webhook in stored:
            if webhook.id not in kept:
                plan.left_out("webhook", webhook.url,
                              partial(self.webhooks.delete, tx, actor, webhook.id))

    def _create(self, tx: Tx, actor: Principal, wanted: DeskWebhook, secret: Secret | None
                ) -> PlannedChange:
        if secret is None:
            raise DeskFileInvalid(
                "a webhook is created with its signing secret by reference "
                "(the receiver verifies signatures with it), such as {env: "
                "TOKENDESK_SECRET_WEBHOOK}.", field="signing_secret")
        made = self.webhooks.create(tx, actor, WebhookCreate(
            url=wanted.url, events=[e.value for e in wanted.events],
            description=wanted.description), webhook_id=wanted.id, secret=secret).webhook
        if not wanted.enabled:
            made = self.webhooks.update(tx, actor, made.id, WebhookUpdate(enabled=False))
        fields = [FieldChange(k, None, v) for k, v in _comparable(made).items()
                  if v not in (None, "", [])]
        return PlannedChange("create", "webhook", made.url,
                             (*fields, FieldChange("signing_secret", secret="set")))

    def _update(self, tx: Tx, actor: Principal, current: WebhookRecord, wanted: DeskWebhook,
                secret: Secret | None) -> PlannedChange | None:
        values: dict[str, Any] = {
            "url": wanted.url.strip(), "events": [e.value for e in wanted.events],
            "description": wanted.description.strip(), "enabled": wanted.enabled}
        after = {**values, "events": sorted(values["events"])}
        changes = list(differences(_comparable(current), after))
        verdict: SecretVerdict | None = None
        if secret is not None:
            same = same_secret(secret.reveal().strip(), self.webhooks.signing_secret(current))
            verdict = "unchanged" if same else "changed"
        if not changes and verdict in (None, "unchanged"):
            return None
        edit = WebhookUpdate(**{c.field: values[c.field] for c in changes})
        made = self.webhooks.update(tx, actor, current.id, edit,
                                    secret=secret if verdict == "changed" else None)
        if verdict is not None:
            changes.append(FieldChange("signing_secret", secret=verdict))
        return PlannedChange("update", "webhook", made.url, tuple(changes))


def _comparable(webhook: WebhookRecord) -> dict[str, Any]:
    return {"url": webhook.url, "events": sorted(webhook.events),
            "description": webhook.description, "enabled": webhook.enabled}


def _match(given: list[DeskWebhook], stored: list[WebhookRecord]) -> dict[int, WebhookRecord]:
    """The stored webhook of each entry (by position) that has one: the one of its id, else
    the one of its URL that no other entry names by id.

    Raises DeskFileInvalid for an id given twice, and for a URL that two entries without an
    id, or two stored webhooks, share (give the ids).
    """
    by_id = {w.id: w for w in stored}
    claimed = {w.id for w in given if w.id is not None}
    found: dict[int, WebhookRecord] = {}
    seen: dict[str, int] = {}
    for index, wanted in enumerate(given):
        key = wanted.id or f"url {wanted.url.strip()}"
        if key in seen:
            what = "id" if wanted.id else "URL"
            raise DeskFileInvalid(
                f"webhooks[{index}] '{wanted.url[:60]}': the {what} is already used by "
                f"webhooks[{seen[key]}]; give each webhook its own id.",
                field=f"webhooks[{index}].{'id' if wanted.id else 'url'}")
        seen[key] = index
        if wanted.id is not None:
            if wanted.id in by_id:
                found[index] = by_id[wanted.id]
            continue
        same_url = [w for w in stored if w.url == wanted.url.strip() and w.id not in claimed]
        if len(same_url) > 1:
            raise DeskFileInvalid(
                f"webhooks[{index}] '{wanted.url[:60]}': {len(same_url)} webhooks have this "
                "URL; give the id of the one this entry is (tokendesk export writes them).",
                field=f"webhooks[{index}].id")
        if same_url:
            found[index] = same_url[0]
    return found
