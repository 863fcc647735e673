"""``create_app``: the REST API, the OAuth callback, the console and operations endpoints."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from tokendesk.services.wiring import Tokendesk
from tokendesk.web import hotpath, oauth
from tokendesk.web.api import accounts, connections, misc, tokens
from tokendesk.web.console import install as install_console
from tokendesk.web.errors import install_error_handlers

API_PREFIX = "/api/v1"


def create_app(td: Tokendesk, *, background: bool = False) -> FastAPI:
    """The ASGI application serving ``td``; built once per process at startup.

    With ``background`` the refresher runs while the app is served. Either way a clean
    shutdown writes the audit records still buffered (uvicorn re-raises SIGTERM after its
    shutdown, so this is the last place our code runs).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if background:
            td.background.start()
        try:
            yield
        finally:
            if background:
                await run_in_threadpool(td.background.stop)
            await run_in_threadpool(td.audit_buffer.flush)

    app = FastAPI(
        lifespan=lifespan,
        title="Tokendesk",
        version="0.1.0",
        summary="Self-hosted OAuth 2.0 connection desk",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.tokendesk = td
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(misc.router)
    api.include_router(connections.router)
    api.include_router(tokens.router)
    api.include_router(accounts.router)
    app.include_router(api)
    app.router.routes.insert(0, hotpath.route)  # the bots' handout, before FastAPI's route
    app.include_router(oauth.router)
    install_console(app)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body, content_type = td.metrics.render()
        return Response(body, media_type=content_type)

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        td.metrics.observe_request(
            request.method, path, response.status_code, time.perf_counter() - started
        )
        return response

    return app
