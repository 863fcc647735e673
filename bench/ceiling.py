"""The ceiling: a bare Starlette route returning a fixed JSON body, served the way
``tokendesk serve`` serves Tokendesk.

``python -m bench.ceiling --port 8401 --body-bytes 260`` answers every
``GET /api/v1/connections/{name}/token`` with the same JSON document, shaped like a token
handout and padded to ``--body-bytes``, with the same ``Cache-Control`` headers. No database,
no authentication, no framework beyond Starlette: whatever Tokendesk does per request is what
separates its figure from this one.

The server call below mirrors ``src/tokendesk/cli/serve.py`` (uvicorn, one worker, the same
keyword arguments, so the same automatic choice of event loop and HTTP parser). When
``tokendesk serve`` changes how it serves (another server, other options), change
:func:`serve` here the same way, or the ratio stops meaning anything.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
DEFAULT_BODY_BYTES = 260


def fixed_document(body_bytes: int) -> dict[str, Any]:
    """A token-handout-shaped document whose compact JSON is ``body_bytes`` long (or a little
    longer when that is too short for the fields)."""
    document: dict[str, Any] = {
        "access_token": "", "token_type": "Bearer", "expires_at": "2030-01-01T00:00:00Z",
        "scope": "api:read", "connection": "Bench 00", "kind": "shared", "provider_fields": {},
    }
    overhead = len(_compact(document))
    document["access_token"] = "x" * max(16, body_bytes - overhead)
    return document


def _compact(document: dict[str, Any]) -> str:
    # Starlette's JSONResponse renders with these separators too.
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def make_app(body_bytes: int = DEFAULT_BODY_BYTES) -> Starlette:
    """One route, one fixed JSON body."""
    document = fixed_document(body_bytes)

    async def token(request: Request) -> JSONResponse:
        return JSONResponse(document, headers=NO_STORE)

    return Starlette(routes=[Route("/api/v1/connections/{name}/token", token)])


def serve(app: Starlette, port: int) -> None:
    """Serve ``app`` exactly as ``tokendesk serve`` serves Tokendesk."""
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                timeout_graceful_shutdown=10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-bytes", type=int, default=DEFAULT_BODY_BYTES)
    args = parser.parse_args(argv)
    serve(make_app(args.body_bytes), args.port)


if __name__ == "__main__":
    main()
