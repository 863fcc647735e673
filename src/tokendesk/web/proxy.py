"""``/proxy/{connection}/{path}``: a bot calls its provider's API through the desk, which adds
the connection's token (:mod:`tokendesk.tokens.api_proxy`); the token never leaves.

The request body is read as it arrives: up to REPLAY_BUFFER_BYTES it is kept whole (so the
call can be sent again after a 401), beyond that it is passed on chunk by chunk and never
held in memory. The answer's body is streamed back the same way. The call itself runs on
the event loop (:class:`~tokendesk.tokens.api_proxy.ApiProxy` takes a worker thread only
for what may block: a handout or a target read from the database, a refresh).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import unquote

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from tokendesk.domain.forwarding import METHODS
from tokendesk.domain.tokens import TokenKind
from tokendesk.errors import ProxyBodyTooLarge, TokendeskError, ValidationError
from tokendesk.tokens.api_proxy import ProxyRequest
from tokendesk.web.deps import get_principal, get_tokendesk
from tokendesk.web.errors import error_response

PREFIX = "/proxy"
TOKEN_TYPE_HEADER = "tokendesk-token-type"
ERROR_HEADER = "Tokendesk-Error"
# A body up to this size is kept whole so that it can be sent again after a 401.
REPLAY_BUFFER_BYTES = 1_000_000

# Not in the OpenAPI document: its answers are the provider API's own, of any shape (the
# README describes it).
router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.api_route("/{name}/{path:path}", methods=list(METHODS))
async def proxy(request: Request, name: str, path: str) -> Response:
    """Call the connection's API: ``<API base URL>/<path>?<query>`` with the same method,
    body and allowlisted headers, and ``Authorization: Bearer`` the shared token (or with
    ``Tokendesk-Token-Type: user`` the caller's own token), authenticated by the API key.
    The API's status, headers and body come back as they came; redirects are not followed.
    A 401 refreshes the token and retries once; a second 401 carries
    ``Tokendesk-Token-Refreshed: true``. Tokendesk's own refusals carry ``Tokendesk-Error``
    (their code), so a caller can tell them from the API's."""
    try:
        return await _forward(request, name, path)
    except TokendeskError as exc:
        answer = error_response(exc)
        answer.headers[ERROR_HEADER] = exc.code
        return answer


async def _forward(request: Request, name: str, path: str) -> Response:
    td = get_tokendesk(request)
    kind = _token_kind(request)
    key = _api_key(request)
    # A bot calling again: its principal and token from the hot path's cache (one shared
    # epoch read, audited as a handout from memory); else the full way in the worker thread.
    hit = await td.hot.cached_with_principal(key, name, kind) if key else None
    if hit is not None:
        caller, handout = hit[0], hit[1].handout
    else:
        caller, handout = await run_in_threadpool(get_principal, request), None
    limit = td.settings.proxy_max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ProxyBodyTooLarge(f"The request body is larger than the limit of {limit} bytes.")
    call = ProxyRequest(
        method=request.method,
        path=_raw_path(request.scope.get("raw_path"), name, path),
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=list(request.headers.raw),
        body=await _body(request.stream(), limit),
    )
    answer = await td.api_proxy.call(caller, name, kind, call, handout=handout, api_key=key)
    response = (Response(answer.body, status_code=answer.status)
                if isinstance(answer.body, bytes)
                else StreamingResponse(answer.body, status_code=answer.status))
    response.raw_headers = [(k.lower(), v) for k, v in answer.headers]
    return response


def _api_key(request: Request) -> str | None:
    """The API key of ``Authorization: Bearer <key>``, or None (a console session)."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    return credential.strip() or None if scheme.lower() == "bearer" else None


def _token_kind(request: Request) -> TokenKind:
    given = request.headers.get(TOKEN_TYPE_HEADER, "shared").strip().lower()
    if given not in ("shared", "user"):
        raise ValidationError(
            "The Tokendesk-Token-Type header must be 'shared' or 'user'.", field="token_type"
        )
    return TokenKind(given)


def _raw_path(raw: object, name: str, decoded: str) -> str:
    """The path below the connection, percent-encoded as the caller sent it (decoding and
    encoding again would change what the API receives)."""
    if isinstance(raw, bytes):
        text = raw.decode("latin-1")
        head, _, rest = text.removeprefix(PREFIX + "/").partition("/")
        if unquote(head) == name:
            return rest
    return decoded


async def _body(stream: AsyncIterator[bytes], limit: int) -> bytes | AsyncIterator[bytes]:
    """The whole body when it ends within REPLAY_BUFFER_BYTES, else its chunks as they come
    (the API proxy counts those against ``limit``). Raises ProxyBodyTooLarge."""
    kept: list[bytes] = []
    size = 0
    async for chunk in stream:
        if not chunk:
            continue
        kept.append(chunk)
        size += len(chunk)
        if size > limit:
            raise ProxyBodyTooLarge(f"The request body is larger than the limit of {limit} bytes.")
        if size > REPLAY_BUFFER_BYTES:
            return _then(kept, stream)
    return b"".join(kept)


async def _then(kept: list[bytes], stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks read so far, then the rest of ``stream`` as it arrives."""
    for chunk in kept:
        yield chunk
    kept.clear()
    async for chunk in stream:
        if chunk:
            yield chunk
