"""The API proxy: a bot's call to a provider's API, made by the desk with the connection's
token, so the token never leaves the server.

Authorization is the handout's (:meth:`TokenService.handout`: API key, invited roles only;
a token due is refreshed on the way; the handout is audited as any other). A 401 from the
API refreshes the token once through the same path (single-flight: the refresh lease, and
no second refresh within FORCED_REFRESH_INTERVAL_S) and, when the request can be sent
again, retries it once. Every call is audited (never a body, a query value or a token) and
counted by connection and status; each connection has a rate limit.

The common call -- a bot calling again, its token and the connection's target remembered
for the current cache epoch -- runs on the event loop from start to end: the rate limit, the
call over a kept-alive connection of the guarded aiohttp session, the small answer read
whole, the audit row queued for the writer thread and the metric. Only what may block goes
to a worker thread: a handout or target read from the database, a refresh after a 401.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import anyio.to_thread

from tokendesk.domain.api_base import fill_token_fields
from tokendesk.domain.forwarding import (
    Header,
    RateLimiter,
    audited_path,
    checked_path,
    request_headers,
    response_headers,
)
from tokendesk.domain.principal import Principal
from tokendesk.domain.tokens import Handout, TokenKind
from tokendesk.errors import (
    ConnectionNotFound,
    InvalidProviderResponse,
    NotInvited,
    ProxyBodyTooLarge,
    ProxyRateLimited,
    TokendeskError,
)
from tokendesk.metrics import Metrics
from tokendesk.services.audit import AuditService
from tokendesk.services.audit_buffer import AuditBuffer
from tokendesk.tokens.api_sender import ApiResponse, ApiSender, Body
from tokendesk.tokens.api_targets import ApiTarget, ApiTargets
from tokendesk.tokens.handout import TokenService
from tokendesk.tokens.handout_cache import HandoutCache

REFRESHED_HEADER = b"tokendesk-token-refreshed"
# An answer declaring at most this many bytes is read whole before it is passed on.
SMALL_BODY_BYTES = 64 * 1024


@dataclass
class ProxyRequest:
    """A caller's request: ``path`` below the API base URL and ``query`` as they came
    (percent-encoded); ``body`` bytes when buffered whole (it can be sent again), else the
    chunks as they arrive."""

    method: str
    path: str
    query: str
    headers: list[Header]
    body: Body = b""


@dataclass
class ProxiedAnswer:
    """The API's answer to pass back: status and headers as they came (allowlisted), the
    body streamed; iterating it to the end (or closing it) audits the call."""

    status: int
    headers: list[Header]
    body: AsyncIterator[bytes] | bytes  # bytes: a small answer, read whole and audited already


@dataclass
class _Call:
    """One proxied call's accounting, filled in as it goes."""

    actor: Principal
    name: str
    kind: TokenKind
    request: ProxyRequest
    started: float = field(default_factory=time.perf_counter)
    connection_id: str | None = None
    bytes_in: int = 0
    retried: bool = False


class ApiProxy:
    def __init__(
        self,
        tokens: TokenService,
        hot: HandoutCache,
        targets: ApiTargets,
        sender: ApiSender,
        audit: AuditService,
        audit_buffer: AuditBuffer,
        metrics: Metrics,
        clock: Callable[[], datetime],
        *,
        per_minute: int,
        max_body_bytes: int,
    ) -> None:
        self.tokens = tokens
        self.hot = hot
        self.targets = targets
        self.sender = sender
        self.audit = audit
        self.audit_buffer = audit_buffer
        self.metrics = metrics
        self.clock = clock
        self.limiter = RateLimiter(per_minute)
        self.max_body_bytes = max_body_bytes

    async def call(
        self,
        actor: Principal,
        name: str,
        kind: TokenKind,
        request: ProxyRequest,
        *,
        handout: Handout | None = None,
        api_key: str | None = None,
    ) -> ProxiedAnswer:
        """Forward ``request`` to connection ``name``'s API with its ``kind`` token:
        ``handout`` when the hot path's cache gave it (the cache epoch read for it is
        ``hot.epoch``), else handed out now in a worker thread (through the cache when the
        caller sent ``api_key``, so the next call finds it there).

        Returns the API's answer (any status, redirects not followed). Raises what the
        handout raises (ConnectionNotFound, NotInvited, TokenUnavailable, ProviderError),
        ValidationError for a path that climbs out of the API base URL, NoApiBaseUrl,
        ProxyRateLimited, ProxyBodyTooLarge, and a ProviderError when the API cannot be
        reached or its answer is too large.
        """
        call = _Call(actor, name, kind, request)
        if not isinstance(request.body, bytes):
            request.body = self._counted(request.body, call)
        else:
            call.bytes_in = len(request.body)
        try:
            checked_path(request.path)
            if handout is None:
                handout, epoch = await self._handout(actor, name, kind, api_key)
            else:
                epoch = self.hot.epoch
            call.connection_id = handout.connection_id
            target = self.targets.cached(handout.connection_id, epoch)
            if target is None:
                target = await anyio.to_thread.run_sync(
                    self.targets.load, handout.connection_id, handout.connection, epoch
                )
            self._take_turn(handout)
            response = await self._send(target, handout, request)
            refreshed = False
            if response.status_code == 401:
                response, refreshed = await self._after_401(call, target, response)
        except TokendeskError as exc:
            self._account(call, exc.status, 0, error=exc)
            raise
        return await self._answer(call, response, refreshed)

    async def _handout(
        self, actor: Principal, name: str, kind: TokenKind, api_key: str | None
    ) -> tuple[Handout, int]:
        """The full way, in a worker thread; and a cache epoch read before it returned."""
        if api_key is not None:  # through the cache, which reads the epoch first
            found = await anyio.to_thread.run_sync(self.hot.handout, api_key, name, kind)
            return found, self.hot.epoch
        epoch = await self.hot.read_epoch()
        return await anyio.to_thread.run_sync(self.tokens.handout, actor, name, kind), epoch

    def _take_turn(self, handout: Handout) -> None:
        wait_s = self.limiter.take(handout.connection_id, self.clock().timestamp())
        if wait_s:
            raise ProxyRateLimited(
                f"Too many calls to the API of '{handout.connection}' through Tokendesk; "
                f"try again in {wait_s:g} seconds.",
                retry_after_s=wait_s,
            )

    async def _send(
        self, target: ApiTarget, handout: Handout, request: ProxyRequest
    ) -> ApiResponse:
        base = fill_token_fields(target.template, handout.extra, target.name)
        url = base + "/" + request.path.lstrip("/")
        if request.query:
            url += "?" + request.query
        headers = request_headers(request.headers)
        if not isinstance(request.body, bytes):
            # A streamed body keeps the length the caller declared (many APIs refuse chunked
            # uploads); a buffered one gets its own from the client.
            headers += [(k, v) for k, v in request.headers if k.lower() == b"content-length"]
        # RFC 6750 §2.1; the caller's own Authorization never got past request_headers.
        headers.append((b"authorization", b"Bearer " + handout.access_token.reveal().encode()))
        return await self.sender.send(request.method, url, headers, request.body, target.route)

    async def _after_401(
        self, call: _Call, target: ApiTarget, response: ApiResponse
    ) -> tuple[ApiResponse, bool]:
        """The API refused the token: refresh it once; send again when the body is at hand.
        Returns the answer to pass on, and whether it is a second refusal."""
        replayable = isinstance(call.request.body, bytes)
        if replayable:
            await response.aclose()
        try:
            fresh = await anyio.to_thread.run_sync(partial(
                self.tokens.handout, call.actor, call.name, call.kind, force_refresh=True
            ))
        except TokendeskError:
            await response.aclose()
            raise
        if not replayable:
            return response, False  # the body is gone; the next call has the new token
        call.retried = True
        again = await self._send(target, fresh, call.request)
        return again, again.status_code == 401

    async def _answer(
        self, call: _Call, response: ApiResponse, refreshed: bool
    ) -> ProxiedAnswer:
        declared = response.declared_length()
        if declared is not None and declared > self.max_body_bytes:
            await response.aclose()
            error = InvalidProviderResponse(
                f"The API of '{call.name}' answered with a body larger than the limit of "
                f"{self.max_body_bytes} bytes; it was not passed on."
            )
            self._account(call, error.status, 0, error=error)
            raise error
        headers = response_headers(response.raw_headers)
        if refreshed:
            headers.append((REFRESHED_HEADER, b"true"))
        if declared is not None and declared <= SMALL_BODY_BYTES:
            # Read whole: one answer with its Content-Length, no streaming machinery.
            body = b"".join([chunk async for chunk in self._streamed(call, response)])
            return ProxiedAnswer(response.status_code, headers, body)
        return ProxiedAnswer(response.status_code, headers, self._streamed(call, response))

    async def _streamed(self, call: _Call, response: ApiResponse) -> AsyncIterator[bytes]:
        """The response body as it arrives, at most max_body_bytes. The call is audited
        before the last piece is passed on (one piece read ahead), so the record is written
        by the time the caller has the whole answer; or when the stream ends early."""
        pieces, sent, accounted = response.aiter_raw(), 0, False
        try:
            chunk = await anext(pieces, None)
            while chunk is not None:
                following = await anext(pieces, None)
                sent += len(chunk)
                if sent > self.max_body_bytes:
                    raise ProxyBodyTooLarge(  # mid-stream: the caller sees the body cut off
                        f"The API's answer grew past {self.max_body_bytes} bytes."
                    )
                if following is None:
                    await response.aclose()
                    self._account(call, response.status_code, sent)
                    accounted = True
                yield chunk
                chunk = following
        finally:
            if not accounted:
                await response.aclose()
                self._account(call, response.status_code, sent)

    async def _counted(self, chunks: AsyncIterator[bytes], call: _Call) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            call.bytes_in += len(chunk)
            if call.bytes_in > self.max_body_bytes:
                raise ProxyBodyTooLarge(
                    f"The request body is larger than the limit of {self.max_body_bytes} bytes."
                )
            yield chunk

    def _account(
        self, call: _Call, status: int, bytes_out: int, *, error: TokendeskError | None = None
    ) -> None:
        """Audit one proxied call (batched) and count it; never a body, query value or token."""
        if isinstance(error, ConnectionNotFound | NotInvited | ProxyRateLimited):
            outcome = "denied"
        else:
            outcome = "success" if error is None and status < 400 else "failure"
        details: dict[str, object] = {
            "method": call.request.method,
            "path": audited_path(call.request.path, call.request.query),
            "kind": call.kind.value,
            "status": status,
            "bytes_in": call.bytes_in,
            "bytes_out": bytes_out,
            "duration_ms": round((time.perf_counter() - call.started) * 1000, 1),
        }
        if call.retried:
            details["retried_after_refresh"] = True
        if error is not None:
            details["error"] = error.code
        self.audit_buffer.add(self.audit.row(
            call.actor, "proxy.call", target_type="connection", target=call.name,
            outcome=outcome, connection_id=call.connection_id, details=details,
        ))
        self.metrics.proxied(call.connection_id or "none", status)
