"""Workload identity: a workload's JWT from a trusted issuer, or an API key, exchanged for a
connection's access token (RFC 8693), and the same JWT accepted as the bearer of the bots'
handout.

It opens its own short transactions and fetches issuers' keys between them (never inside
one): read the trusted issuer and the route out, fetch or reuse its keys, verify, then map the
token to a principal (and record its ``jti``) in a second transaction. The handout itself is
:meth:`TokenService.handout`, with the same rules as for a bot with an API key: invited roles
only, shared or the user's own token, refreshed on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from tokendesk.domain.principal import Principal, Via
from tokendesk.domain.tokens import Handout, TokenKind
from tokendesk.domain.workload import WorkloadRule
from tokendesk.errors import (
    ConnectionNotFound,
    ValidationError,
    WorkloadKeysUnavailable,
    WorkloadTokenRejected,
)
from tokendesk.oauth.workload_keys import WorkloadKeys
from tokendesk.oauth.workload_tokens import check_algorithm, read_unverified, verify
from tokendesk.services.audit import AuditService
from tokendesk.services.audit_buffer import AuditBuffer
from tokendesk.services.auth import AuthService
from tokendesk.services.proxy import ProxyService
from tokendesk.services.workload import Verified, WorkloadService
from tokendesk.storage.db import Transaction
from tokendesk.tokens.handout import TokenService

TOKEN_TYPE_JWT = "urn:ietf:params:oauth:token-type:jwt"
TOKEN_TYPE_ACCESS = "urn:ietf:params:oauth:token-type:access_token"
TOKEN_TYPE_API_KEY = "urn:tokendesk:token-type:api-key"
SUBJECT_TOKEN_TYPES = (TOKEN_TYPE_JWT, TOKEN_TYPE_API_KEY)


@dataclass(frozen=True, slots=True)
class Workload:
    """Who a verified workload token acts as, and what it said about itself."""

    principal: Principal
    issuer: str
    subject: str
    rule: WorkloadRule | None  # None: an API key


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """Which rule maps a token (None: none does), and why each other rule does not."""

    subject: str
    matched: WorkloadRule | None
    others: tuple[tuple[WorkloadRule, str], ...]


@dataclass(frozen=True, slots=True)
class ExchangeRequest:
    """The parameters of an RFC 8693 §2.1 token exchange request (already present)."""

    subject_token: str
    subject_token_type: str
    resource: str | None
    audience: str | None
    scope: str | None
    requested_token_type: str | None
    kind: TokenKind = TokenKind.SHARED


class WorkloadIdentity:
    def __init__(self, transaction: Transaction, workloads: WorkloadService,
                 keys: WorkloadKeys, proxy: ProxyService, auth: AuthService,
                 tokens: TokenService, audit: AuditService, audit_buffer: AuditBuffer,
                 clock: Callable[[], datetime], public_url: str) -> None:
        self.transaction = transaction
        self.workloads = workloads
        self.keys = keys
        self.proxy = proxy
        self.auth = auth
        self.tokens = tokens
        self.audit = audit
        self.audit_buffer = audit_buffer
        self.clock = clock
        self.public_url = public_url.rstrip("/")

    def authenticate(self, token: str) -> Workload:
        """The workload a JWT from a trusted issuer proves; raises WorkloadTokenRejected
        (audited, with the reason) or WorkloadKeysUnavailable."""
        try:
            return self._authenticate(token)
        except (WorkloadTokenRejected, WorkloadKeysUnavailable) as exc:
            self.audit_buffer.add(self.audit.row(
                _stranger(), "workload.authenticate", target_type="workload",
                target="workload token", outcome="denied",
                details={"error": exc.code, "reason": exc.message[:300]}))
            raise

    def _authenticate(self, token: str) -> Workload:
        found = read_unverified(token)
        with self.transaction(read_only=True) as tx:
            issuer = self.workloads.issuer_of(tx, found.iss)
            route = self.proxy.route(tx)
        check_algorithm(found, issuer)  # before any key is fetched: none, HS256 never pass
        key = self.keys.key(issuer.issuer, found.kid, route=route)
        if key is None:
            raise WorkloadTokenRejected(
                f"The token is signed with a key (kid {str(found.kid)[:64]}) that the "
                f"workload issuer '{issuer.name}' does not publish.")
        claims, expires_at = verify(found, issuer, key, self.clock())
        with self.transaction() as tx:
            principal, rule = self.workloads.principal_for(
                tx, Verified(issuer, claims, expires_at))
        return Workload(principal, issuer.issuer, str(claims.get("sub", ""))[:200], rule)

    def check(self, actor: Principal, name: str, token: str) -> RuleCheck:
        """An administrator's check of a pasted JWT against issuer ``name``: verified as an
        exchange would (signature, audience, times; its ``jti`` is not recorded), then which
        rule maps it and why each other rule does not. Raises PermissionDenied,
        WorkloadIssuerNotFound, WorkloadTokenRejected (the reason it would be refused)."""
        with self.transaction(read_only=True) as tx:
            issuer = self.workloads.get(tx, actor, name)
            route = self.proxy.route(tx)
        found = read_unverified(token)
        if found.iss.rstrip("/") != issuer.issuer:
            raise WorkloadTokenRejected(
                f"The token's issuer is {found.iss[:200]}, not {issuer.issuer}.")
        check_algorithm(found, issuer)
        key = self.keys.key(issuer.issuer, found.kid, route=route)
        if key is None:
            raise WorkloadTokenRejected(
                f"The token is signed with a key (kid {str(found.kid)[:64]}) that "
                f"'{issuer.name}' does not publish.")
        claims, _ = verify(found, issuer, key, self.clock())
        matched = issuer.first_match(claims)
        return RuleCheck(
            subject=str(claims.get("sub", ""))[:200],
            matched=matched,
            others=tuple((rule, rule.why_not(claims) or "an earlier rule matched first")
                         for rule in issuer.rules if rule is not matched))

    def handout(self, token: str, name: str, kind: TokenKind) -> Handout:
        """The handout of connection ``name`` to the workload ``token`` proves (the bots'
        ``GET …/token`` with a JWT bearer); audited with issuer and subject."""
        workload = self.authenticate(token)
        return self._handout(workload, name, kind, "workload.handout")

    def exchange(self, request: ExchangeRequest) -> Handout:
        """RFC 8693 §2: the subject token exchanged for a connection's access token.

        Raises ValidationError (invalid_request; field ``scope``: invalid_scope),
        WorkloadTokenRejected or InvalidCredentials (invalid_grant), ConnectionNotFound or
        NotInvited (invalid_target), and the handout's errors."""
        if request.requested_token_type not in (None, "", TOKEN_TYPE_ACCESS):
            raise ValidationError("Tokendesk issues access tokens only: requested_token_type "
                                  f"must be {TOKEN_TYPE_ACCESS}.", field="requested_token_type")
        if request.subject_token_type not in SUBJECT_TOKEN_TYPES:
            raise ValidationError(
                "subject_token_type must be " + " or ".join(SUBJECT_TOKEN_TYPES) + ".",
                field="subject_token_type")
        name = self.connection_named(request.resource, request.audience)
        if request.subject_token_type == TOKEN_TYPE_JWT:
            workload = self.authenticate(request.subject_token)
        else:
            with self.transaction(read_only=True) as tx:
                principal = self.auth.authenticate_api_key(tx, request.subject_token)
            workload = Workload(principal, "tokendesk", principal.username, None)
        handout = self._handout(workload, name, request.kind, "token.exchange")
        if request.scope:
            granted = set(handout.scope.split())
            missing = [s for s in request.scope.split() if s not in granted]
            if missing:
                raise ValidationError(
                    f"The token of '{name}' does not carry the scope {missing[0][:100]} "
                    f"(it carries: {handout.scope or 'none'}).", field="scope")
        return handout

    def connection_named(self, resource: str | None, audience: str | None) -> str:
        """The connection a request names: ``audience`` is its name; ``resource`` is its
        name or its URL ``<public URL>/api/v1/connections/<name>``. Raises
        ValidationError when neither is given, ConnectionNotFound for another URL."""
        if audience:
            return audience
        if not resource:
            raise ValidationError("Name the connection as audience (its name) or resource "
                                  "(its URL).", field="resource")
        if not urlsplit(resource).scheme:
            return resource
        prefix = self.public_url + "/api/v1/connections/"
        if resource.startswith(prefix) and "/" not in resource[len(prefix):]:
            return unquote(resource[len(prefix):])
        raise ConnectionNotFound(f"The resource {resource[:200]} is not a connection of this "
                                 f"Tokendesk (expected {prefix}<name>).")

    def _handout(self, workload: Workload, name: str, kind: TokenKind,
                 action: str) -> Handout:
        if kind is TokenKind.USER and workload.principal.user_id is None:
            raise ValidationError("A workload acting as itself has no user-specific token; "
                                  "ask for the shared token, or map it to a user.",
                                  field="token_type")
        handout = self.tokens.handout(workload.principal, name, kind)
        details: dict[str, Any] = {"kind": kind.value, "issuer": workload.issuer,
                                   "subject": workload.subject}
        if workload.rule is not None:
            details["rule"] = workload.rule.words()[:300]
        self.audit_buffer.add(self.audit.row(
            workload.principal, action, target_type="token", target=name,
            connection_id=handout.connection_id, details=details))
        return handout


def _stranger() -> Principal:
    """A workload not recognised (yet): no user, no permission."""
    return Principal(None, "workload", Via.WORKLOAD, frozenset(), frozenset())
