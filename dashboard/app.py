"""The FastAPI application: wiring, authentication, and the JSON API.

``create_app(settings)`` builds the app; its lifespan migrates the store,
creates the first admin when asked, and runs the background workers (alert
consumer, outbox publisher, takedown deliverer). HTML pages live in
``dashboard.pages``; both use the dependencies defined here, so every route
but ``/health`` and the sign-in form requires a signed-in user or a token.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, AsyncIterator, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import AfterValidator, BaseModel, Field
from starlette.background import BackgroundTask

from dashboard import auth, evidence, hooks, stages
from dashboard.bus import AlertConsumer, LiveHub, OutboxPublisher
from dashboard.evidence import snapshot_file
from dashboard.settings import DashboardSettings
from dashboard.store import AlertFilter, Store

log = logging.getLogger(__name__)


# -- shared state and dependencies ----------------------------------------------------------


MAX_FILE_CHARS = 1_000_000  # a rule or lexicon file, through the API and the form alike
FORM_MAX_BYTES = 9 * MAX_FILE_CHARS + 65_536  # that many characters, UTF-8 and percent-encoded
CLAIM_TTL_S = 300.0


@dataclass
class Context:
    settings: DashboardSettings
    store: Store
    hub: LiveHub = field(default_factory=LiveHub)
    workers: list[Any] = field(default_factory=list)
    throttle: auth.LoginThrottle = field(default_factory=auth.LoginThrottle)
    # Password hashing (scrypt, ~0.1 s of CPU) runs here, one at a time, never on the event loop.
    hasher: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="scrypt"))

    async def hashing(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.hasher, fn, *args)

    def on_alert(self, alert: dict[str, Any]) -> None:
        """A newly stored alert: enforce-mode takedown rules call the hooks right away."""
        hooks.request_takedown(self.store, alert)


class NotSignedIn(Exception):
    """No valid session or token: pages redirect to sign-in, the API answers 401."""


def ctx(request: Request) -> Context:
    return request.app.state.ctx


def resolve_principal(request: Request, c: Context) -> auth.Principal | None:
    """Who the request's token or session cookie stands for now (None: nobody, or no longer)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        row = c.store.token(auth.token_key(header[7:].strip()))
        if row is None:
            return None
        return auth.Principal(name=f"token:{row['name']}", role=row["role"], via="token")
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        row = c.store.session_user(auth.session_key(c.settings.secret_key, cookie))
        if row is not None:
            return auth.Principal(name=row["username"], role=row["role"], via="session", csrf=row["csrf"],
                                  brands=tuple(row["brands"]))
    return None


def principal(request: Request, c: Annotated[Context, Depends(ctx)]) -> auth.Principal:
    who = resolve_principal(request, c)
    if who is None:
        raise NotSignedIn()
    return who


async def check_csrf(request: Request, who: auth.Principal) -> None:
    """State changes made with a session cookie must echo the session's CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS") or who.via != "session":
        return
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        given = (await request.form(max_part_size=FORM_MAX_BYTES)).get("csrf_token")
    if not auth.tokens_match(who.csrf, given if isinstance(given, str) else None):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def require(role: str):
    """Dependency: the caller, who must hold at least ``role`` (and pass CSRF)."""

    async def dep(request: Request, who: Annotated[auth.Principal, Depends(principal)]) -> auth.Principal:
        if not who.has(role):
            raise HTTPException(403, f"this needs the {role} role")
        await check_csrf(request, who)
        return who

    return dep


Viewer = Annotated[auth.Principal, Depends(require("rights_holder"))]  # rights holders: scoped to their brands
Moderator = Annotated[auth.Principal, Depends(require("moderator"))]
Ops = Annotated[auth.Principal, Depends(require("ops"))]
Admin = Annotated[auth.Principal, Depends(require("admin"))]
Ctx = Annotated[Context, Depends(ctx)]


def _plain(value: str) -> str:
    """Text that any database can store: no NUL, valid UTF-8."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    value.encode("utf-8")  # lone surrogates raise UnicodeEncodeError, a ValueError
    return value


Plain = Annotated[str, AfterValidator(_plain)]


def _query(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    try:
        return _plain(value)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


# -- API models ------------------------------------------------------------------------------


class DecisionIn(BaseModel):
    decision: Literal["confirm", "dismiss", "escalate"]
    note: Annotated[Plain, Field(max_length=4000)] = ""
    override: bool = False  # change the decision of an alert someone already actioned


class FileIn(BaseModel):
    content: Annotated[Plain, Field(max_length=MAX_FILE_CHARS)]


class ModeIn(BaseModel):
    mode: Literal["enforce", "shadow"]


class StreamIn(BaseModel):
    url: str = Field(min_length=1, max_length=2048)


StreamId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")]  # as livewatch.assignment


class ExplainIn(BaseModel):
    text: Annotated[Plain, Field(min_length=1, max_length=20_000)]


class HookIn(BaseModel):
    name: Annotated[Plain, Field(min_length=1, max_length=128)]
    url: Annotated[Plain, Field(min_length=8, max_length=2000, pattern=r"^https?://[^\s/]+(/\S*)?$")]
    brands: list[Annotated[Plain, Field(min_length=1, max_length=256)]] = Field(default_factory=list, max_length=100)
    secret: Annotated[Plain, Field(pattern=r"^whsec_[A-Za-z0-9+/=]{24,200}$")] | None = None


Brand = Annotated[Plain, Field(min_length=1, max_length=256)]


class TokenIn(BaseModel):
    name: Annotated[Plain, Field(min_length=1, max_length=128)]
    role: Literal["moderator", "ops", "admin"]
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class UserIn(BaseModel):
    username: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
    password: Annotated[Plain, Field(min_length=10, max_length=1024)]
    role: Literal["rights_holder", "moderator", "ops", "admin"]
    brands: list[Brand] = Field(default_factory=list, max_length=100)


class RoleIn(BaseModel):
    role: Literal["rights_holder", "moderator", "ops", "admin"]
    brands: list[Brand] = Field(default_factory=list, max_length=100)


# -- app -------------------------------------------------------------------------------------


def create_app(settings: DashboardSettings) -> FastAPI:
    """The dashboard app; opening the store and starting workers happen in its lifespan."""
    settings.validate()
    rules_dir, lexicon_dir = stages.resolve_dirs(settings.rules_dir, settings.lexicon_dir)
    settings = dataclasses.replace(settings, rules_dir=rules_dir, lexicon_dir=lexicon_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = start_context(settings)
        app.state.ctx = c
        try:
            yield
        finally:
            stop_context(c)

    app = FastAPI(title="livewatch dashboard", version="1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    _install_handlers(app)
    _install_api(app)
    from dashboard.pages import install_pages

    install_pages(app)
    return app


def start_context(settings: DashboardSettings) -> Context:
    store = Store(settings.db_url)
    store.migrate()
    _bootstrap_admin(store, settings)
    c = Context(settings=settings, store=store,
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
        from events import ConfigError

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
    async def _security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.setdefault("x-content-type-options", "nosniff")
        response.headers.setdefault("x-frame-options", "DENY")
        response.headers.setdefault("referrer-policy", "same-origin")
        response.headers.setdefault(
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
        return response


def _install_api(app: FastAPI) -> None:
    @app.get("/health", tags=["system"])
    def health(c: Ctx) -> dict[str, Any]:
        return {"status": "ok", "schema_version": c.store.schema_version()}

    @app.get("/api/openapi.json", tags=["system"])
    def openapi(_who: Moderator) -> dict[str, Any]:
        return app.openapi()

    @app.get("/api/me", tags=["system"])
    def me(who: Viewer) -> dict[str, Any]:
        return {"name": who.name, "role": who.role, "via": who.via} | (
            {"brands": list(who.brands)} if who.scope is not None else {})

    @app.get("/api/alerts", tags=["alerts"])
    def list_alerts(
        c: Ctx, who: Viewer,
        category: str | None = None, severity: str | None = None, stream: str | None = None,
        brand: str | None = None, status: str | None = None, mode: str | None = None, rule: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        flt = AlertFilter(category=_query(category), severity=_query(severity), stream=_query(stream),
                          brand=_query(brand), status=_query(status), mode=_query(mode), rule=_query(rule),
                          brands=who.scope)
        return [_feed_row(r) for r in c.store.list_alerts(flt, limit=limit, offset=offset)]

    @app.get("/api/queue", tags=["alerts"])
    def queue(c: Ctx, who: Moderator, limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[dict[str, Any]]:
        """Undecided alerts to triage: grouped by stream, newest and most severe first, with claims."""
        return triage_queue(c, limit)

    @app.get("/api/alerts/{alert_id}", tags=["alerts"])
    def get_alert(alert_id: str, c: Ctx, who: Viewer) -> dict[str, Any]:
        row = _alert_or_404(c, alert_id, who)
        return {**_feed_row(row), "alert": row["alert"], "decisions": c.store.decisions_for(alert_id),
                "takedowns": [public_delivery(d, who) for d in c.store.list_deliveries(alert_id)]}

    @app.post("/api/alerts/{alert_id}/decisions", tags=["alerts"], status_code=201,
              responses={409: {"description": "claimed by another moderator, or already decided"}})
    def decide_api(alert_id: str, body: DecisionIn, c: Ctx, who: Moderator) -> dict[str, Any]:
        return decide(c, alert_id, body.decision, body.note, who, override=body.override)

    @app.post("/api/alerts/{alert_id}/claim", tags=["alerts"],
              responses={409: {"description": "claimed by another moderator"}})
    def claim(alert_id: str, c: Ctx, who: Moderator) -> dict[str, Any]:
        return claim_alert(c, alert_id, who)

    @app.delete("/api/alerts/{alert_id}/claim", tags=["alerts"], status_code=204)
    def unclaim(alert_id: str, c: Ctx, who: Moderator) -> Response:
        _alert_or_404(c, alert_id)
        c.store.release(alert_id, who.name)
        c.hub.publish({"type": "claim", "alert_id": alert_id, "user": None})
        return Response(status_code=204)

    @app.get("/api/alerts/{alert_id}/evidence/{index}/snapshot", tags=["alerts"],
             responses={200: {"content": {"image/jpeg": {}}}})
    def snapshot(alert_id: str, index: Annotated[int, PathParam(ge=0, le=10_000)], c: Ctx,
                 who: Viewer) -> FileResponse:
        row = _alert_or_404(c, alert_id, who)
        path = snapshot_file(row["alert"], index, Path(c.settings.data_dir))
        if path is None:
            raise HTTPException(404, "no such snapshot")
        return FileResponse(path, media_type="image/jpeg", headers={"cache-control": "private, max-age=3600"})

    @app.get("/api/alerts/{alert_id}/evidence/verify", tags=["alerts"])
    def verify(alert_id: str, c: Ctx, who: Viewer) -> dict[str, Any]:
        _alert_or_404(c, alert_id, who)
        problems = _stage_call(stages.verify_evidence, c.settings.alert_store, Path(c.settings.data_dir), alert_id)
        return {"intact": not problems, "problems": problems}

    @app.get("/api/alerts/{alert_id}/bundle", tags=["alerts"], responses={200: {"content": {"application/zip": {}}}})
    def bundle(alert_id: str, c: Ctx, who: Viewer) -> FileResponse:
        _alert_or_404(c, alert_id, who)
        tmp = tempfile.TemporaryDirectory(prefix="lw-bundle-")
        try:
            path = _stage_call(stages.evidence_bundle, c.settings.alert_store, Path(c.settings.data_dir), alert_id,
                               Path(tmp.name))
        except BaseException:
            tmp.cleanup()
            raise
        return FileResponse(path, media_type="application/zip", filename=f"evidence-{alert_id}.zip",
                            background=BackgroundTask(tmp.cleanup))

    @app.get("/api/events", include_in_schema=False)
    async def events(request: Request, c: Ctx, who: Viewer) -> StreamingResponse:
        return StreamingResponse(_sse(request, c, who), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    # -- ops ---------------------------------------------------------------------------

    @app.get("/api/rules", tags=["ops"])
    def rules_list(c: Ctx, _who: Ops) -> dict[str, Any]:
        s = c.settings
        return {
            "rules": stages.list_rules(s.rules_dir),
            "files": {k: stages.list_files(d) if d else [] for k, d in (("rules", s.rules_dir),
                                                                     ("lexicons", s.lexicon_dir))},
        }

    @app.get("/api/files/{kind}/{name}", tags=["ops"])
    def read_file(kind: Literal["rules", "lexicons"], name: str, c: Ctx, _who: Ops) -> dict[str, Any]:
        path = _data_file(c, kind, name)
        if not path.is_file():
            raise HTTPException(404, f"no {kind} file {name}")
        return {"kind": kind, "name": name, "content": path.read_text(encoding="utf-8", errors="replace")}

    @app.put("/api/files/{kind}/{name}", tags=["ops"],
             responses={400: {"description": "not acceptable YAML (syntax, anchors/aliases)"}, 422: {"description": "refused edit"}})
    def write_file(kind: Literal["rules", "lexicons"], name: str, body: FileIn, c: Ctx,
                   who: Ops) -> dict[str, Any]:
        return save_file(c, kind, name, body.content, who)

    @app.post("/api/rules/{rule_id}/mode", tags=["ops"], responses={422: {"description": "refused edit"}})
    def rule_mode(rule_id: str, body: ModeIn, c: Ctx, who: Ops) -> dict[str, Any]:
        return set_rule_mode(c, rule_id, body.mode, who)

    @app.post("/api/explain", tags=["ops"])
    def explain(body: ExplainIn, c: Ctx, _who: Ops) -> dict[str, Any]:
        s = c.settings
        return {"text": body.text, **_stage_call(stages.explain, s.rules_dir, s.lexicon_dir, body.text, s.brands_dir)}

    @app.get("/api/streams", tags=["ops"])
    def streams_list(c: Ctx, _who: Ops) -> dict[str, str]:
        return _stage_call(stages.list_streams, c.settings.kafka)

    @app.put("/api/streams/{stream_id}", tags=["ops"], responses={422: {"description": "bad stream id or URL"}})
    def streams_add(stream_id: StreamId, body: StreamIn, c: Ctx, _who: Ops) -> dict[str, str]:
        _stage_call(stages.add_stream, c.settings.kafka, stream_id, body.url)
        return {"stream_id": stream_id, "url": body.url}

    @app.delete("/api/streams/{stream_id}", tags=["ops"], status_code=204)
    def streams_remove(stream_id: StreamId, c: Ctx, _who: Ops) -> Response:
        _stage_call(stages.remove_stream, c.settings.kafka, stream_id)
        return Response(status_code=204)

    @app.get("/api/figures", tags=["ops"])
    def figures(c: Ctx, _who: Ops, days: Annotated[int, Query(ge=1, le=3650)] = 30) -> list[dict[str, Any]]:
        import time

        return c.store.rule_figures(since=time.time() - days * 86400)

    # -- admin -------------------------------------------------------------------------

    @app.get("/api/hooks", tags=["admin"])
    def hooks_list(c: Ctx, _who: Admin) -> list[dict[str, Any]]:
        return [_public_hook(h) for h in c.store.list_hooks()]

    @app.post("/api/hooks", tags=["admin"], status_code=201)
    def hooks_add(body: HookIn, c: Ctx, _who: Admin) -> dict[str, Any]:
        check_hook_target(c, body.url)
        secret = body.secret or hooks.generate_secret()
        try:
            hooks.secret_key_bytes(secret)
        except hooks.SignatureError as exc:
            raise HTTPException(422, str(exc)) from None
        hook_id = c.store.create_hook(body.name, body.url, secret, body.brands)
        return {**_public_hook(c.store.hook(hook_id)), "secret": secret}

    @app.delete("/api/hooks/{hook_id}", tags=["admin"], status_code=204)
    def hooks_remove(hook_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], c: Ctx, _who: Admin) -> Response:
        if not c.store.deactivate_hook(hook_id):
            raise HTTPException(404, "no such hook")
        return Response(status_code=204)

    @app.get("/api/deliveries", tags=["admin"])
    def deliveries(c: Ctx, _who: Admin, alert_id: str | None = None) -> list[dict[str, Any]]:
        return c.store.list_deliveries(_query(alert_id))

    @app.post("/api/deliveries/{delivery_id}/retry", tags=["admin"])
    def delivery_retry(delivery_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], c: Ctx,
                       _who: Admin) -> dict[str, Any]:
        if not c.store.requeue_delivery(delivery_id):
            raise HTTPException(404, "no dead delivery with that id")
        return {"requeued": delivery_id}

    @app.get("/api/tokens", tags=["admin"])
    def tokens_list(c: Ctx, _who: Admin) -> list[dict[str, Any]]:
        return c.store.list_tokens()

    @app.post("/api/tokens", tags=["admin"], status_code=201)
    def tokens_add(body: TokenIn, c: Ctx, who: Admin) -> dict[str, Any]:
        return add_token(c, body.name, body.role, body.expires_in_days, who)

    @app.delete("/api/tokens/{token_id}", tags=["admin"], status_code=204)
    def tokens_revoke(token_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], c: Ctx, _who: Admin) -> Response:
        if not c.store.revoke_token(token_id):
            raise HTTPException(404, "no such token")
        return Response(status_code=204)

    @app.get("/api/users", tags=["admin"])
    def users_list(c: Ctx, _who: Admin) -> list[dict[str, Any]]:
        return c.store.list_users()

    @app.post("/api/users", tags=["admin"], status_code=201)
    def users_add(body: UserIn, c: Ctx, _who: Admin) -> dict[str, Any]:
        return add_user(c, body.username, body.password, body.role, body.brands)

    @app.patch("/api/users/{user_id}", tags=["admin"], responses={409: {"description": "the last admin"}})
    def users_role(user_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], body: RoleIn, c: Ctx,
                   who: Admin) -> dict[str, Any]:
        return change_role(c, user_id, body.role, body.brands, who)

    @app.delete("/api/users/{user_id}", tags=["admin"], status_code=204,
                responses={409: {"description": "the last admin, or yourself"}})
    def users_delete(user_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], c: Ctx, who: Admin) -> Response:
        delete_user(c, user_id, who)
        return Response(status_code=204)


# -- actions shared by the API and the pages -----------------------------------------------------


def decide(c: Context, alert_id: str, decision: str, note: str, who: auth.Principal,
           override: bool = False) -> dict[str, Any]:
    """Store and publish a decision; a confirm of an enforce-mode alert calls the takedown hooks.

    Refused (409) while another moderator holds the alert's claim, and, unless ``override``,
    when the alert was already actioned: the moderator is warned first.
    """
    row = _alert_or_404(c, alert_id)
    holder = c.store.claim_holder(alert_id)
    if holder and holder["username"] != who.name:
        raise HTTPException(409, f"{holder['username']} is judging this alert now: pick another one")
    if row["status"] != "new" and not override:
        raise HTTPException(409, f"this alert is already {row['status']}: confirm that you want to change it")
    record = c.store.add_decision(alert_id, decision, note, who.name, c.settings.kafka.topics.decisions)
    c.store.release(alert_id, who.name)
    if decision == "confirm":
        record["takedowns_queued"] = hooks.request_takedown(c.store, row["alert"], confirmed=True,
                                                            decided_by=who.name)
    c.hub.publish({"type": "decision", "alert_id": alert_id, "status": record["status"], "brand": row["brand"]})
    log.info("decision %s", decision, extra={"stream_id": row["stream_id"], "alert_id": alert_id, "user": who.name})
    return record


def claim_alert(c: Context, alert_id: str, who: auth.Principal) -> dict[str, Any]:
    """Claim an alert while judging it (renewed by claiming again); 409 when another moderator holds it."""
    row = _alert_or_404(c, alert_id)
    holder = c.store.claim(alert_id, who.name, CLAIM_TTL_S)
    if holder["username"] != who.name:
        raise HTTPException(409, f"{holder['username']} is judging this alert now: pick another one")
    c.hub.publish({"type": "claim", "alert_id": alert_id, "user": who.name, "brand": row["brand"]})
    return {"alert_id": alert_id, "user": who.name, "expires_in_s": CLAIM_TTL_S}


SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def triage_queue(c: Context, limit: int = 200) -> list[dict[str, Any]]:
    """Undecided enforce-mode alerts, grouped by stream; streams and alerts newest-highest first."""
    rows = [_feed_row(r) for r in c.store.list_alerts(AlertFilter(status="new"), limit=limit)]
    claims = c.store.live_claims()
    now = time.time()
    for row in rows:
        row["claimed_by"] = claims.get(row["alert_id"])
        row["age_s"] = max(0.0, now - _detected_ts(row["detected_at"], row["received_at"]))
    rows.sort(key=lambda r: (SEVERITY_RANK.get(r["severity"], 9), -r["received_at"]))
    first_seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        first_seen.setdefault(row["stream_id"], i)
    return sorted(rows, key=lambda r: first_seen[r["stream_id"]])


def _detected_ts(detected_at: str, fallback: float) -> float:
    """Unix time of an alert's ISO ``detected_at`` (the worker's clock); its arrival time if unreadable."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(detected_at.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return fallback


def save_file(c: Context, kind: str, name: str, content: str, who: auth.Principal) -> dict[str, Any]:
    """Validate an edit like ``livewatch rules check`` would; only a clean set is written."""
    path = _data_file(c, kind, name)
    refused = stages.creation_refused(path)
    if refused:
        raise HTTPException(403, refused)
    if len(content) > MAX_FILE_CHARS:
        raise HTTPException(422, {"message": f"{name}: edit refused",
                                  "errors": [f"{name}: larger than {MAX_FILE_CHARS:,} characters: split it"]})
    malformed = stages.yaml_errors(name, content)  # streaming parse: an alias bomb is refused before it expands
    if malformed:
        raise HTTPException(400, {"message": f"{name}: not acceptable YAML", "errors": malformed})
    errors = _stage_call(stages.check_edit, c.settings.rules_dir, c.settings.lexicon_dir, kind, name, content)
    if errors:
        raise HTTPException(422, {"message": f"{name}: edit refused", "errors": errors})
    stages.write_file(path, content)
    log.info("rules file saved", extra={"file": f"{kind}/{name}", "user": who.name})
    return {"kind": kind, "name": name, "saved": True}


def set_rule_mode(c: Context, rule_id: str, mode: str, who: auth.Principal) -> dict[str, Any]:
    match = [r for r in stages.list_rules(c.settings.rules_dir) if r["rule_id"] == rule_id]
    if not match:
        raise HTTPException(404, f"no rule {rule_id}")
    name = match[0]["file"]
    path = _data_file(c, "rules", name)
    try:
        content = stages.set_mode_text(path.read_text(encoding="utf-8"), rule_id, mode)
    except KeyError:
        raise HTTPException(422, f"rule {rule_id} could not be located in {name}: edit the file instead") from None
    save_file(c, "rules", name, content, who)
    return {"rule_id": rule_id, "mode": mode, "file": name}


def add_user(c: Context, username: str, password: str, role: str, brands: list[str] | None = None) -> dict[str, Any]:
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", username):
        raise HTTPException(422, "user names are 1-64 letters, digits, '.', '_' or '-'")
    problem = auth.check_new_password(password)
    if problem:
        raise HTTPException(422, problem)
    brands = _role_brands(role, brands or [])
    if c.store.user_by_name(username):
        raise HTTPException(409, f"user {username} exists")
    user_id = c.store.create_user(username, auth.hash_password(password), role, brands)
    log.info("user created", extra={"user": username, "role": role})
    return {"id": user_id, "username": username, "role": role, "brands": brands}


def change_role(c: Context, user_id: int, role: str, brands: list[str], who: auth.Principal) -> dict[str, Any]:
    user = c.store.user(user_id)
    if user is None:
        raise HTTPException(404, "no such user")
    brands = _role_brands(role, brands)
    if user["role"] == "admin" and role != "admin" and c.store.count_admins() <= 1:
        raise HTTPException(409, "this is the last admin: make another user admin first")
    c.store.set_role(user_id, role, brands)
    log.info("role changed", extra={"user": user["username"], "role": role, "by": who.name})
    return {"id": user_id, "username": user["username"], "role": role, "brands": brands}


def delete_user(c: Context, user_id: int, who: auth.Principal) -> None:
    user = c.store.user(user_id)
    if user is None:
        raise HTTPException(404, "no such user")
    if user["username"] == who.name:
        raise HTTPException(409, "you cannot delete yourself: ask another admin")
    if user["role"] == "admin" and c.store.count_admins() <= 1:
        raise HTTPException(409, "this is the last admin: make another user admin first")
    c.store.delete_user(user_id)
    log.info("user deleted", extra={"user": user["username"], "by": who.name})


def _role_brands(role: str, brands: list[str]) -> list[str]:
    if role not in auth.ROLES:
        raise HTTPException(422, f"role must be one of {', '.join(auth.ROLES)}")
    if role == "rights_holder" and not brands:
        raise HTTPException(422, "a rights holder needs at least one brand")
    return sorted(set(brands)) if role == "rights_holder" else []


def add_token(c: Context, name: str, role: str, expires_in_days: int | None, who: auth.Principal) -> dict[str, Any]:
    token = auth.new_api_token()
    expires_at = time.time() + expires_in_days * 86400 if expires_in_days else None
    token_id = c.store.create_token(name, auth.token_key(token), role, who.name, expires_at)
    return {"id": token_id, "name": name, "role": role, "expires_at": expires_at, "token": token}


def check_hook_target(c: Context, url: str) -> None:
    """Refuse endpoints on loopback, link-local or private addresses unless the admin setting allows them."""
    problem = hooks.target_problem(url, c.settings.hooks.allow_private_targets)
    if problem:
        raise HTTPException(422, problem)


def public_delivery(delivery: dict[str, Any], who: auth.Principal) -> dict[str, Any]:
    """A takedown call as ``who`` may see it: only admins see the endpoint's error detail."""
    if who.has("admin"):
        return delivery
    failed = delivery.get("last_error") is not None
    return {**delivery, "last_status": None,
            "last_error": "the takedown call failed; an admin can see why" if failed else None}


def _alert_or_404(c: Context, alert_id: str, who: auth.Principal | None = None) -> dict[str, Any]:
    row = c.store.alert(_query(alert_id) or "")
    if row is None or (who is not None and not who.may_see(row["brand"])):
        raise HTTPException(404, f"no alert {alert_id}")
    return row


def _data_file(c: Context, kind: str, name: str) -> Path:
    try:
        folder = stages.data_dir(c.settings.rules_dir, c.settings.lexicon_dir, kind)
        return stages.file_path(folder, name)
    except stages.Unavailable as exc:
        raise HTTPException(503, str(exc)) from None
    except KeyError:
        raise HTTPException(404, f"{name!r} is not an editable {kind} file name") from None


def _stage_call(fn: Any, *args: Any) -> Any:
    """Stage features that are not installed or configured answer 503 with the reason."""
    from events import LivewatchError

    try:
        return fn(*args)
    except stages.Unavailable as exc:
        raise HTTPException(503, str(exc)) from None
    except LivewatchError as exc:
        raise HTTPException(422, str(exc)) from None
    except KeyError as exc:
        raise HTTPException(404, f"not found: {exc}") from None


def _feed_row(row: dict[str, Any]) -> dict[str, Any]:
    """A feed entry; ``confidence`` is None for alerts of schema 1.0, which do not carry one.

    ``title`` is shortened for the feed (``title_truncated`` says so); the alert page and
    ``/api/alerts/{id}`` carry the full text.
    """
    alert = row["alert"]
    title = row["title"] or ""
    return {k: row[k] for k in ("alert_id", "revision", "stream_id", "rule_id", "rule_version", "category",
                                "severity", "mode", "action", "brand", "score", "detected_at",
                                "status")} | {"title": evidence.shorten(title), "title_truncated": len(title) > evidence.FEED_TITLE_CHARS,
                                              "received_at": row["received_at"],
                                              "media_start": alert.get("media_start"),
                                              "media_end": alert.get("media_end"),
                                              "confidence": alert.get("confidence"),
                                              "key_snapshot": evidence.key_snapshot(alert)}


def _public_hook(hook: dict[str, Any] | None) -> dict[str, Any]:
    """A hook without its secret (shown once, at creation)."""
    return {k: v for k, v in (hook or {}).items() if k != "secret"}


async def _sse(request: Request, c: Context, who: auth.Principal) -> AsyncIterator[bytes]:
    """The live feed; the caller is authorised again every ``sse_reauth_s`` and the stream ends
    as soon as the session is signed out or the token revoked or expired."""
    queue = c.hub.subscribe()
    wait_s = min(c.settings.sse_keepalive_s, c.settings.sse_reauth_s)
    checked = time.monotonic()
    try:
        yield b"retry: 2000\n\n"
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=wait_s)
            except asyncio.TimeoutError:
                event = ""
            if time.monotonic() - checked >= c.settings.sse_reauth_s or event == "":
                if not await _still_allowed(request, c, who):
                    yield b"event: signed-out\ndata: {}\n\n"
                    return
                checked = time.monotonic()
            if event == "":
                if await request.is_disconnected():
                    return
                yield b": keepalive\n\n"
                continue
            if event is None:
                return
            if not who.may_see(event.get("brand", (event.get("alert") or {}).get("brand"))):
                continue
            data = json.dumps(event, ensure_ascii=False)
            yield f"event: {event['type']}\ndata: {data}\n\n".encode()
    finally:
        c.hub.unsubscribe(queue)


async def _still_allowed(request: Request, c: Context, who: auth.Principal) -> bool:
    now = await asyncio.to_thread(resolve_principal, request, c)
    return now is not None and now.role == who.role and now.brands == who.brands
