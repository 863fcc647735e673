"""``/api/v1/providers``, ``/api/v1/audit``, ``/api/v1/settings/proxy`` and health."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from tokendesk.services.inputs import ProxySettingsInput
from tokendesk.domain.audit import AuditFilter
from tokendesk.web.api.schemas import AuditEventOut, ProviderOut, ProxyOut
from tokendesk.web.deps import App, Caller

router = APIRouter()


@router.get("/health", tags=["operations"])
def health(td: App) -> dict[str, str]:
    """Answers without authentication; says whether the database is reachable."""
    with td.transaction() as tx:
        tx.exec_driver_sql("SELECT 1")
    return {"status": "ok"}


@router.get("/providers", tags=["providers"])
def list_providers(td: App, caller: Caller) -> list[ProviderOut]:
    return [ProviderOut.of(p) for p in td.catalog.providers()]


@router.get("/providers/{key}", tags=["providers"])
def show_provider(td: App, caller: Caller, key: str) -> ProviderOut:
    return ProviderOut.of(td.catalog.get(key))


@router.get("/audit", tags=["audit"])
def read_audit(td: App, caller: Caller, actor: str | None = None, action: str | None = None,
               connection: str | None = None, since: datetime | None = None,
               until: datetime | None = None, limit: int = 100,
               before_id: int | None = None) -> list[AuditEventOut]:
    with td.transaction() as tx:
        connection_id = td.connections.get(tx, caller, connection).id if connection else None
        events = td.audit.search(tx, caller, AuditFilter(actor, action, connection_id, since,
                                                         until, limit, before_id))
    return [AuditEventOut.of(e) for e in events]


@router.get("/settings/proxy", tags=["settings"])
def show_proxy(td: App, caller: Caller) -> ProxyOut:
    with td.transaction() as tx:
        return ProxyOut.of(td.proxy.get(tx, caller))


@router.put("/settings/proxy", tags=["settings"])
def save_proxy(td: App, caller: Caller, body: ProxySettingsInput) -> ProxyOut:
    with td.transaction() as tx:
        return ProxyOut.of(td.proxy.save(tx, caller, body))
