"""The FastAPI application: wiring and lifespan.

``create_app(settings)`` builds the app; its lifespan migrates the store,
creates the first admin when asked, and runs the background workers (alert
consumer, outbox publisher, takedown deliverer). The routes live in two
routers, ``dashboard.api`` (JSON) and ``dashboard.pages`` (HTML), which share
the dependencies of ``dashboard.deps`` and the actions of ``dashboard.actions``
and never import this module.
"""

from __future__ import annotations

import dataclasses
import logging
import urllib.parse
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import RequestResponseEndpoint

from dashboard import api, auth, hooks, pages, stages
from dashboard.bus import AlertConsumer, OutboxPublisher
from dashboard.deps import Context, NotSignedIn
from dashboard.settings import DashboardSettings
from dashboard.store import Store
from events import ConfigError

log = logging.getLogger(__name__)


def create_app(settings: DashboardSettings, *, streams: stages.StreamControlFactory | None = None) -> FastAPI:
    """The dashboard app; opening the store and starting workers happen in its lifespan.

    ``streams`` opens a client of the workers' control topic (``livewatch.streams``) for the
    ops streams API; without it that API answers 503.
    """
    settings.validate()
    rules_dir, lexicon_dir = stages.resolve_dirs(settings.rules_dir, settings.lexicon_dir)
    settings = dataclasses.replace(settings, rules_dir=rules_dir, lexicon_dir=lexicon_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = start_context(settings, streams)
        app.state.ctx = c
        try:
            yield
        finally:
            stop_context(c)

    app = FastAPI(title="livewatch dashboard", version="1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    _install_handlers(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.openapi()  # FastAPI builds included routes on first use: here, not in the first request after a start
    return app


def start_context(settings: DashboardSettings, streams: stages.StreamControlFactory | None = None) -> Context:
    store = Store(settings.db_url)
    store.migrate()
    _bootstrap_admin(store, settings)
    c = Context(settings=settings, store=store, streams=streams,
                throttle=auth.LoginThrottle(settings.login_max_failures, settings.login_lockout_s))
    if settings.kafka.bootstrap_servers:
        c.workers.append(AlertConsumer(store, c.hub, settings.kafka, settings.consumer_group, c.on_alert).start())
        c.workers.append(OutboxPublisher(store, settings.kafka, settings.outbox_poll_s).start())
    if settings.deliver_hooks:
        c.workers.append(hooks.HookDeliverer(store, settings.hooks, settings.kafka.topics).start())
    return c


def stop_context(c: Context) -> None:
    c.hub.publish(None)
    for worker in reversed(c.workers):
        worker.stop()
    c.hasher.shutdown(wait=False, cancel_futures=True)
    c.store.close()


def _bootstrap_admin(store: Store, settings: DashboardSettings) -> None:
    """Create the first admin from settings when the user table is empty."""
    if settings.initial_admin is None or store.count_users():
        return
    username, password = settings.initial_admin
    problem = auth.check_new_password(password)
    if problem:
        raise ConfigError(f"initial admin password refused: {problem}; set a longer LIVEWATCH_ADMIN_PASSWORD")
    store.create_user(username, auth.hash_password(password), "admin")
    log.info("created the initial admin user", extra={"user": username})


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _exc: NotSignedIn) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "sign in or send an API token"}, status_code=401,
                                headers={"www-authenticate": "Bearer"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urllib.parse.urlencode({"next": target}), status_code=303)

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers.setdefault("x-content-type-options", "nosniff")
        response.headers.setdefault("x-frame-options", "DENY")
        response.headers.setdefault("referrer-policy", "same-origin")
        response.headers.setdefault(
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or request.url.path == "/health":
            return await http_exception_handler(request, exc)
        raw: object = exc.detail  # a str, or the dict of an edit refused (``{"message", "errors"}``)
        detail = raw.get("message", str(raw)) if isinstance(raw, dict) else str(raw)
        return pages.render(request, "error.html", None, status_code=exc.status_code, status=exc.status_code,
                            detail=detail)
