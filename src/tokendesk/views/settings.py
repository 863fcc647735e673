"""The desk's network settings as the API and the CLI show them: the egress allowlist and
the forward proxy (its password only as whether one is stored)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from tokendesk.domain.egress import EgressAllowlist
from tokendesk.domain.proxy import ForwardProxy


class EgressAllowlistOut(BaseModel):
    """The egress allowlist: ``allowlist`` is what administrators store (editable);
    ``environment_allowlist`` comes from TOKENDESK_EGRESS_ALLOWLIST (read-only). Both apply."""

    allowlist: list[str]
    environment_allowlist: list[str]
    updated_at: datetime | None
    updated_by: str

    @classmethod
    def of(cls, a: EgressAllowlist) -> EgressAllowlistOut:
        return cls(allowlist=list(a.stored), environment_allowlist=list(a.environment),
                   updated_at=a.updated_at, updated_by=a.updated_by)


class ProxyOut(BaseModel):
    enabled: bool
    scheme: str
    host: str
    port: int | None
    auth: str
    username: str
    password_stored: bool
    bypass: list[str]
    updated_at: datetime | None
    updated_by: str

    @classmethod
    def of(cls, p: ForwardProxy) -> ProxyOut:
        return cls(
            enabled=p.enabled,
            scheme=p.scheme,
            host=p.host,
            port=p.port,
            auth=p.auth,
            username=p.username,
            password_stored=p.has_password,
            bypass=list(p.bypass),
            updated_at=p.updated_at,
            updated_by=p.updated_by,
        )
