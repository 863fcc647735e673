"""The current desk as a desk file: secrets as references with suggested names, never values."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import Connection as Tx

from tokendesk.domain.connection_proxy import ProxyMode
from tokendesk.domain.connections import Connection
from tokendesk.domain.events import EventKind
from tokendesk.domain.mail import SmtpSettings
from tokendesk.domain.principal import Principal
from tokendesk.domain.proxy import ForwardProxy
from tokendesk.domain.workload import WorkloadIssuer
from tokendesk.services.accounts import AccountService
from tokendesk.services.connections import ConnectionService
from tokendesk.services.desk.file import (
    DESK_FILE_VERSION,
    DeskConnection,
    DeskFile,
    DeskProxy,
    DeskRole,
    DeskSmtp,
    DeskWebhook,
    DeskWorkloadIssuer,
    DeskWorkloadRule,
    SecretReference,
)
from tokendesk.services.desk.references import suggested_env_name
from tokendesk.services.desk.workload import stored_rule_json
from tokendesk.services.egress import EgressService
from tokendesk.services.mail import MailService
from tokendesk.services.proxy import ProxyService
from tokendesk.services.webhooks import WebhookRecord, WebhookService
from tokendesk.services.workload import WorkloadService


@dataclass(frozen=True, slots=True)
class Exported:
    """The services an export reads the desk through."""

    accounts: AccountService
    connections: ConnectionService
    egress: EgressService
    proxy: ProxyService
    webhooks: WebhookService
    mail: MailService
    workloads: WorkloadService


def export_desk(tx: Tx, actor: Principal, services: Exported) -> DeskFile:
    """The desk as a desk file. Raises PermissionDenied for an actor who may not read all of
    it (the caller checks he is an administrator)."""
    taken: set[str] = set()
    roles = [
        DeskRole(name=r.name, description=r.description,
                 permissions=sorted(r.permissions, key=lambda p: p.value))
        for r in services.accounts.list_roles(tx, actor, custom_only=True)
    ]
    found = sorted(services.connections.search(tx, actor), key=lambda c: c.name.lower())
    smtp = services.mail.settings(tx, actor)
    return DeskFile(
        version=DESK_FILE_VERSION,
        roles=roles,
        connections=[_connection(c, taken) for c in found],
        webhooks=[_webhook(w, taken) for w in sorted(
            services.webhooks.all(tx, actor), key=lambda w: (w.url, w.id))],
        egress_allowlist=list(services.egress.get(tx, actor).stored),
        proxy=_proxy(services.proxy.get(tx, actor), taken),
        # Never saved: left out, so that applying the file leaves the target's alone.
        smtp=_smtp(smtp, taken) if smtp.updated_at is not None else None,
        workload_issuers=[_workload_issuer(i) for i in services.workloads.search(tx, actor)],
    )


def _reference(*parts: str, taken: set[str]) -> SecretReference:
    return SecretReference(env=suggested_env_name(*parts, taken=taken))


def _connection(connection: Connection, taken: set[str]) -> DeskConnection:
    proxy = connection.proxy
    own = proxy.mode is ProxyMode.OWN
    return DeskConnection(
        name=connection.name,
        id=connection.id,
        description=connection.description,
        provider=connection.provider,
        grant_type=connection.grant_type,
        client_id=connection.client_id,
        client_secret=(_reference(connection.name, taken=taken)
                       if connection.has_client_secret else None),
        client_secret_expires_on=connection.client_secret_expires_on,
        authorization_url=connection.authorization_url or None,
        token_url=connection.token_url,
        revocation_url=connection.revocation_url,
        scopes=list(connection.scopes),
        pkce=connection.pkce,
        client_auth_method=connection.client_auth_method,
        client_key=(_reference(connection.name, "key", taken=taken)
                    if connection.has_client_key else None),
        client_certificate=connection.client_certificate,
        api_base_url=connection.api_base_url,
        placeholders=dict(connection.placeholders),
        invited_roles=sorted(connection.invited_roles),
        proxy_mode=proxy.mode.value,
        proxy_url=proxy.url if own else None,
        proxy_username=proxy.username if own else "",
        proxy_password=(_reference(connection.name, "proxy", "password", taken=taken)
                        if own and proxy.has_password else None),
        proxy_bypass=list(proxy.bypass) if own else [],
    )


def _webhook(webhook: WebhookRecord, taken: set[str]) -> DeskWebhook:
    host = urlsplit(webhook.url).hostname or "receiver"
    return DeskWebhook(
        id=webhook.id,
        url=webhook.url,
        events=[EventKind(e) for e in webhook.events],
        description=webhook.description,
        enabled=webhook.enabled,
        signing_secret=_reference("webhook", host, taken=taken),
    )


def _proxy(settings: ForwardProxy, taken: set[str]) -> DeskProxy:
    return DeskProxy(
        enabled=settings.enabled,
        scheme=settings.scheme,
        host=settings.host,
        port=settings.port,
        auth=settings.auth,
        username=settings.username,
        password=(_reference("proxy", "password", taken=taken)
                  if settings.has_password else None),
        bypass=list(settings.bypass),
    )


def _smtp(settings: SmtpSettings, taken: set[str]) -> DeskSmtp:
    return DeskSmtp(
        enabled=settings.enabled,
        host=settings.host,
        port=settings.port,
        starttls=settings.starttls,
        username=settings.username,
        password=(_reference("smtp", "password", taken=taken)
                  if settings.has_password else None),
        from_address=settings.from_address,
    )


def _workload_issuer(issuer: WorkloadIssuer) -> DeskWorkloadIssuer:
    return DeskWorkloadIssuer(
        id=issuer.id,
        name=issuer.name,
        issuer=issuer.issuer,
        audiences=list(issuer.audiences),
        algorithms=list(issuer.algorithms),
        max_lifetime_s=issuer.max_lifetime_s,
        refuse_replay=issuer.refuse_replay,
        rules=[DeskWorkloadRule.model_validate(stored_rule_json(r)) for r in issuer.rules],
    )
