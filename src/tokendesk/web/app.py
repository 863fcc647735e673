"""``create_app``: the REST API, the OAuth callback, the console and operations endpoints,
composed as one ASGI application with the bots' handout in front (``web/hotpath.py``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokendesk.metrics import Metrics
from tokendesk.web import hotpath, oauth, proxy, token_exchange
from tokendesk.web.api import (
    accounts,
    attention,
    connections,
    desk,
    misc,
    tokens,
    webhooks,
    workload,
)
from tokendesk.web.api_docs import install_api_docs
from tokendesk.web.console import install as install_console
from tokendesk.web.console.security import StrictTransport
from tokendesk.web.deps import require_metrics_token
from tokendesk.web.errors import install_error_handlers
from tokendesk.wiring import Tokendesk

API_PREFIX = "/api/v1"


def create_app(
    td: Tokendesk, *, background: bool = False, deliveries: bool = False
) -> ASGIApp:
    """The ASGI application serving ``td``; built once per process at startup.

    Plain ASGI composition, outermost first: ``StrictTransport`` (HSTS, on an https desk
    only; it answers nothing itself), ``HandoutFront`` (answers a bot's token handout), and
    the FastAPI application of :func:`create_api` for everything else. Nothing else runs
    before a bot gets its token.
    """
    app = create_api(td, background=background, deliveries=deliveries)
    desk: ASGIApp = hotpath.HandoutFront(app, hot=td.hot, metrics=td.metrics)
    if td.settings.secure_cookies:
        # HSTS on every answer of an https desk, the hot path's included: outside it.
        desk = StrictTransport(desk)
    return desk


def create_api(
    td: Tokendesk, *, background: bool = False, deliveries: bool = False
) -> FastAPI:
    """The FastAPI application: every route, the console, the OpenAPI document.

    With ``background`` the refresher runs while the app is served, with ``deliveries`` the
    webhook deliverer and the mailer. Either way a clean
    shutdown writes the audit records still buffered (uvicorn re-raises SIGTERM after its
    shutdown, so this is the last place our code runs).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if background:
            td.background.start()
        if deliveries:
            td.deliverer.start()
            td.mailer.start()
        try:
            yield
        finally:
            if background:
                await run_in_threadpool(td.background.stop)
            if deliveries:
                await run_in_threadpool(td.deliverer.stop)
                await run_in_threadpool(td.mailer.stop)
            await td.api_proxy.sender.aclose()  # the API proxy's pooled connections
            await run_in_threadpool(td.audit_buffer.flush)

    app = FastAPI(
        lifespan=lifespan,
        title="Tokendesk",
        version="0.1.0",
        summary="Self-hosted OAuth 2.0 connection desk",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # ours, with Swagger UI served from the package: see api_docs.py
        redoc_url=None,
    )
    app.state.tokendesk = td
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    # The API proxy's route first: every call a bot makes through it is matched at once
    # instead of after every other route (its /proxy/ prefix is nobody else's).
    app.include_router(proxy.router)
    api.include_router(misc.router)
    api.include_router(connections.router)
    api.include_router(tokens.router)
    api.include_router(accounts.router)
    api.include_router(webhooks.router)
    api.include_router(attention.router)
    api.include_router(desk.router)
    api.include_router(workload.router)
    app.include_router(api)
    app.include_router(oauth.router)
    app.include_router(token_exchange.router)
    install_api_docs(app, f"{API_PREFIX}/docs")
    install_console(app)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        # Without TOKENDESK_METRICS_TOKEN, open as before (README says so).
        require_metrics_token(request, td.settings.metrics_token)
        td.observe_gauges()
        body, content_type = td.metrics.render()
        return Response(body, media_type=content_type)

    app.add_middleware(RequestMetrics, metrics=td.metrics)
    return app


class RequestMetrics:
    """Counts requests by method, route template and status, as plain ASGI middleware (the
    decorator form runs every request through an extra task and stream, which costs more
    than a cached token handout). A request that fails unexpectedly counts as a 500."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            if scope["path"].startswith(API_PREFIX + "/") and route.startswith("/") \
                    and not route.startswith(API_PREFIX + "/"):
                route = API_PREFIX + route  # FastAPI nests included routers' prefixes
            self.metrics.observe_request(
                scope["method"], route, status, time.perf_counter() - started
            )
