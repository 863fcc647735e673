"""Test proxy: one real request through the saved forward proxy, with a verdict in words.

It opens its own short transactions (read the proxy, record the outcome) and calls the
target between them, never inside one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tokendesk.domain.connections import Verdict
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.urls import validate_endpoint_url
from tokendesk.errors import ProviderError
from tokendesk.oauth.outbound import Outbound
from tokendesk.services.audit import AuditService
from tokendesk.services.proxy import ProxyService
from tokendesk.storage.db import Transaction


class ProxyCheck:
    def __init__(self, transaction: Transaction, proxy: ProxyService, outbound: Outbound,
                 audit: AuditService, *, allow_http_loopback: bool) -> None:
        self.transaction = transaction
        self.proxy = proxy
        self.outbound = outbound
        self.audit = audit
        self.allow_http_loopback = allow_http_loopback

    def test(self, actor: Principal, target: str) -> Verdict:
        """GET ``target`` through the saved forward proxy; any answer of the target proves
        the proxy carries calls (its status does not matter, it is not a provider call).

        Returns the verdict (also recorded in the audit log). Raises PermissionDenied without
        *Network settings*, ValidationError for a target that is not an http(s) URL.
        """
        actor.require(Permission.MANAGE_SETTINGS)
        url = validate_endpoint_url(target, field="target",
                                    allow_http_loopback=self.allow_http_loopback)
        host = urlsplit(url).hostname or url
        with self.transaction() as tx:
            route = self.proxy.route(tx)
        proxy = route.settings
        if not proxy.enabled:
            return self._record(actor, Verdict(False, "No forward proxy is in use: tick Use a "
                                               "forward proxy, fill in its host and port, save, "
                                               "then test it.", "proxy_disabled"))
        if route.url_for(url) is None:
            return self._record(actor, Verdict(False, f"{host} is in the list of hosts that "
                                               "bypass the proxy; test with an address the "
                                               "proxy should carry.", "bypassed"))
        try:
            reply = self.outbound.get(url, route=route)
        except ProviderError as exc:
            return self._record(actor, Verdict(False, exc.message, exc.kind))
        return self._record(actor, Verdict(
            True, f"The proxy works: through {proxy.host}:{proxy.port} Tokendesk reached {host}, "
                  f"which answered with HTTP status {reply.status}."))

    def _record(self, actor: Principal, verdict: Verdict) -> Verdict:
        with self.transaction() as tx:
            self.audit.record(tx, actor, "settings.proxy.test", target_type="settings",
                              target="forward_proxy",
                              outcome="success" if verdict.ok else "failure",
                              details={"cause": verdict.cause} if verdict.cause else {})
        return verdict
