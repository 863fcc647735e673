"""Fill a custom connection from its issuer: RFC 8414 / OpenID Connect Discovery metadata,
read through the egress policy and the forward proxy like every call to a provider."""

from __future__ import annotations

from tokendesk.domain.connection_proxy import GLOBAL_PROXY, ConnectionProxy
from tokendesk.domain.connections import GrantType
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.secret import Secret
from tokendesk.errors import IssuerMetadataError
from tokendesk.oauth.discovery import IssuerMetadata, fetch_issuer_metadata
from tokendesk.oauth.outbound import Outbound
from tokendesk.services.connection_proxy import unsaved_proxy
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.services.proxy import ProxyService
from tokendesk.storage.db import Transaction

CUSTOM = "custom"


class IssuerDiscovery:
    """Reads an issuer's metadata (no transaction open while it does) and fills a draft."""

    def __init__(self, transaction: Transaction, outbound: Outbound, proxy: ProxyService) -> None:
        self.transaction = transaction
        self.outbound = outbound
        self.proxy = proxy

    def describe(self, actor: Principal, issuer: str,
                 proxy: tuple[ConnectionProxy, Secret | None] = (GLOBAL_PROXY, None)
                 ) -> IssuerMetadata:
        """What ``issuer`` publishes, validated (its metadata must name it as issuer), read
        the way the connection will reach it (``proxy``: its choice and own proxy password)."""
        actor.require(Permission.MANAGE_CONNECTIONS)
        with self.transaction(read_only=True) as tx:
            route = self.proxy.route_of(tx, *proxy)
        return fetch_issuer_metadata(self.outbound, issuer, route=route)

    def fill(self, actor: Principal, data: ConnectionCreate) -> ConnectionCreate:
        """``data`` with what its ``issuer`` publishes filled in where ``data`` leaves it
        open: endpoints, PKCE (on when S256 is supported) and a client authentication method
        the server supports. What the administrator typed always wins."""
        if data.issuer is None:
            return data
        if data.provider != CUSTOM:
            raise IssuerMetadataError(
                "Filling from an issuer is for custom connections; the catalog already "
                f"knows the endpoints of '{data.provider}'.")
        found = self.describe(actor, data.issuer, unsaved_proxy(data))
        authorization_url = data.authorization_url or found.authorization_endpoint
        if data.grant_type is GrantType.AUTHORIZATION_CODE and authorization_url is None:
            raise IssuerMetadataError(
                f"The metadata of {found.issuer} names no authorization endpoint, which the "
                "authorization code flow needs; enter the authorization URL yourself.")
        return data.model_copy(update={
            "issuer": found.issuer,
            "authorization_url": authorization_url,
            "token_url": data.token_url or found.token_endpoint,
            "revocation_url": data.revocation_url or found.revocation_endpoint,
            "pkce": data.pkce if data.pkce is not None else found.pkce_s256,
            "client_auth_method": data.client_auth_method or found.client_auth_method,
        })
