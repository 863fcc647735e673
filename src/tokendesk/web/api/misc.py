"""``/api/v1/providers``, ``/api/v1/audit``, ``/api/v1/settings/proxy``,
``/api/v1/settings/egress`` and ``/api/v1/settings/smtp``, and health."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from tokendesk.domain.audit import AuditFilter
from tokendesk.services.audit import AUDIT_PAGE_MAX
from tokendesk.services.inputs import EgressAllowlistInput, ProxySettingsInput, SmtpSettingsInput
from tokendesk.views.audit import AuditEventOut
from tokendesk.views.notifications import SmtpOut
from tokendesk.views.providers import IssuerMetadataOut, ProviderOut
from tokendesk.views.settings import EgressAllowlistOut, ProxyOut
from tokendesk.web.api.responses import error_responses
from tokendesk.web.deps import App, Caller

router = APIRouter(responses=error_responses())
# Audit event ids are 32-bit integers on PostgreSQL; a larger cursor is refused as input
# instead of failing in the database.
EVENT_ID_MAX = 2**31 - 1


@router.get("/health", tags=["operations"])
def health(td: App) -> dict[str, str]:
    """Answers without authentication; says whether the database is reachable."""
    with td.transaction(read_only=True) as tx:
        tx.exec_driver_sql("SELECT 1")
    return {"status": "ok"}


@router.get("/providers", tags=["providers"])
def list_providers(td: App, caller: Caller) -> list[ProviderOut]:
    return [ProviderOut.of(p) for p in td.catalog.providers()]


@router.get("/providers/{key}", tags=["providers"])
def show_provider(td: App, caller: Caller, key: str) -> ProviderOut:
    return ProviderOut.of(td.catalog.find(key))


@router.get("/issuer-metadata", tags=["providers"])
def read_issuer_metadata(
    td: App, caller: Caller, issuer: Annotated[str, Query(max_length=2000)]
) -> IssuerMetadataOut:
    """What a custom connection with this ``issuer`` would be filled with (RFC 8414 / OpenID
    Connect Discovery), after checking the metadata names that issuer."""
    return IssuerMetadataOut.of(td.discovery.describe(caller, issuer))


def _iso_8601(value: object) -> object:
    """Refuse a bare number: pydantic would read ``until=0.5`` as a Unix time in 1970, and the
    document promises ISO 8601."""
    try:
        float(str(value))
    except ValueError:
        return value
    raise ValueError("expected an ISO 8601 date and time, e.g. 2025-03-01T14:05:00Z")


Name = Annotated[str | None, Query(max_length=100)]
Moment = Annotated[datetime | None, BeforeValidator(_iso_8601),
                   Query(description="ISO 8601; UTC unless a zone is given")]
Limit = Annotated[int, Query(ge=1, le=AUDIT_PAGE_MAX)]
Cursor = Annotated[int | None,
                  Query(ge=1, le=EVENT_ID_MAX, description="Events older than this id")]


@router.get("/audit", tags=["audit"])
def read_audit(td: App, caller: Caller, actor: Name = None, action: Name = None,
               connection: Name = None, since: Moment = None, until: Moment = None,
               limit: Limit = 100, before_id: Cursor = None) -> list[AuditEventOut]:
    """Audit events, newest first; needs *View audit log*."""
    td.audit_buffer.flush()  # handouts are audited in batches: read your own
    with td.transaction(read_only=True) as tx:
        connection_id = td.audit.connection_id(tx, caller, connection) if connection else None
        events = td.audit.search(tx, caller, AuditFilter(actor, action, connection_id, since,
                                                         until, limit, before_id))
    return [AuditEventOut.of(e) for e in events]


@router.get("/settings/proxy", tags=["settings"])
def show_proxy(td: App, caller: Caller) -> ProxyOut:
    with td.transaction(read_only=True) as tx:
        return ProxyOut.of(td.proxy.get(tx, caller))


@router.put("/settings/proxy", tags=["settings"])
def save_proxy(td: App, caller: Caller, body: ProxySettingsInput) -> ProxyOut:
    with td.transaction() as tx:
        return ProxyOut.of(td.proxy.save(tx, caller, body))


@router.get("/settings/egress", tags=["settings"])
def show_egress_allowlist(td: App, caller: Caller) -> EgressAllowlistOut:
    """The egress allowlist: the stored part and the part from the environment."""
    with td.transaction(read_only=True) as tx:
        return EgressAllowlistOut.of(td.egress.get(tx, caller))


@router.put("/settings/egress", tags=["settings"])
def save_egress_allowlist(td: App, caller: Caller,
                          body: EgressAllowlistInput) -> EgressAllowlistOut:
    """Replace the stored allowlist (hosts, IP addresses, CIDR ranges); applies at once."""
    with td.transaction() as tx:
        return EgressAllowlistOut.of(td.egress.save(tx, caller, body))


@router.get("/settings/smtp", tags=["settings"])
def show_smtp(td: App, caller: Caller) -> SmtpOut:
    """The SMTP server of e-mail notifications; the password is never shown."""
    with td.transaction(read_only=True) as tx:
        return SmtpOut.of(td.mail.settings(tx, caller))


@router.put("/settings/smtp", tags=["settings"])
def save_smtp(td: App, caller: Caller, body: SmtpSettingsInput) -> SmtpOut:
    """Replace the SMTP settings; an absent password keeps the stored one."""
    with td.transaction() as tx:
        return SmtpOut.of(td.mail.save(tx, caller, body))
