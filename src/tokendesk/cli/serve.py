"""``tokendesk serve``: one process serving the API, callback and console."""

from __future__ import annotations

import gc
import logging

import typer

from tokendesk.config import load_settings
from tokendesk.logs import configure_logging
from tokendesk.wiring import INITIAL_ADMIN, build, ensure_first_administrator

log = logging.getLogger("tokendesk")


def serve(
    host: str | None = typer.Option(None, help="Address to listen on (TOKENDESK_HOST)."),
    port: int | None = typer.Option(None, help="Port to listen on (TOKENDESK_PORT)."),
) -> None:
    """Run Tokendesk: REST API, OAuth callback and web console in one process."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = load_settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    td = build(settings, create_missing=True, migrate_schema=True)
    password_file = ensure_first_administrator(td)
    typer.echo(f"Tokendesk is running at {settings.public_url}/")
    typer.echo(f"  API:       {settings.public_url}/api/v1  (OpenAPI: /api/v1/docs)")
    typer.echo(f"  Callbacks: {settings.callback_url}/<connection id>  "
               "(register the one each connection shows)")
    if password_file is not None:
        typer.echo(f"  Sign in as '{INITIAL_ADMIN}' with the password in {password_file}")
        typer.echo("  (read it once, sign in, then change it and delete the file).")
    import uvicorn

    from tokendesk.web.app import create_app  # imported here: other commands need no web stack

    app = create_app(
        td, background=settings.background_refresh, deliveries=settings.webhook_delivery
    )
    # What start-up built lives as long as the process: keep it out of the garbage
    # collector's full passes, which would otherwise walk it again and again under load.
    gc.freeze()
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        td.close()
