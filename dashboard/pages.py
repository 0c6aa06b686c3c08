"""HTML pages: sign-in, the live feed, the alert page, ops and admin.

Server-rendered with Jinja2 (autoescaped); the only script is
``static/app.js`` (live feed over server-sent events, evidence check).
Forms post back with the session's CSRF token; actions call the same
functions as the JSON API (``dashboard.actions``). One router, mounted by
``dashboard.app``, which also renders HTTP errors of pages with ``render``.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from dashboard import auth, evidence, hooks, stages
from dashboard.actions import (
    add_token,
    add_user,
    alert_or_404,
    change_role,
    check_hook_target,
    claim_alert,
    data_file,
    decide,
    delete_user,
    feed_row,
    public_delivery,
    public_hook,
    save_file,
    set_rule_mode,
    triage_queue,
)
from dashboard.deps import FORM_MAX_BYTES, Admin, Ctx, Moderator, Ops, Viewer, query
from dashboard.models import HookIn
from dashboard.store import STATUSES, AlertFilter

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["utc"] = lambda ts: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(ts)))
templates.env.filters["percent"] = evidence.percent
templates.env.filters["ago"] = lambda s: _ago(float(s))


def _finalize(value: Any) -> Any:
    """Every value a template prints: bidirectional controls neutralised (they spoof link text)."""
    if isinstance(value, Markup):
        return Markup(evidence.neutralise(str(value)))
    return evidence.neutralise(value) if isinstance(value, str) else value


templates.env.finalize = _finalize
STATIC = HERE / "static"
# The only messages /login?error=... shows: any other value is ignored, so a link cannot put words there.
LOGIN_MESSAGES = {"expired": "your session ended: sign in again", "signed-out": "you signed out"}
FILTERS = ("category", "severity", "stream", "brand", "status", "mode")
CATEGORIES = ("counterfeit", "false_claim", "piracy")
SEVERITIES = ("low", "medium", "high", "critical")

router = APIRouter()


def render(request: Request, template: str, who: auth.Principal | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, {"who": who, **context}, status_code=status_code,
                                      headers={"cache-control": "no-store"})


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


async def form_of(request: Request) -> dict[str, str]:
    form = await request.form(max_part_size=FORM_MAX_BYTES)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so sign-in cannot redirect elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/static/{name}", include_in_schema=False)
def static(name: str, _who: Viewer) -> FileResponse:
    if name not in ("app.js",):
        raise HTTPException(404, "not found")
    return FileResponse(STATIC / name, media_type="text/javascript")


# -- sign in ----------------------------------------------------------------------


@router.get("/login", include_in_schema=False)
def login_form(request: Request, c: Ctx, next: str = "/", error: str = "") -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    resp = render(request, "login.html", None, next=_safe_next(next), error=LOGIN_MESSAGES.get(error),
                  csrf=auth.login_csrf(c.settings.secret_key, nonce))
    resp.set_cookie(auth.LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict",
                    secure=c.settings.secure_cookies)
    return resp


@router.post("/login", include_in_schema=False)
async def login(request: Request, c: Ctx) -> Response:
    form = await form_of(request)
    nonce = request.cookies.get(auth.LOGIN_COOKIE, "")
    target = _safe_next(form.get("next"))
    if not nonce or not auth.tokens_match(auth.login_csrf(c.settings.secret_key, nonce), form.get("csrf_token")):
        raise HTTPException(403, "the sign-in form expired: reload it and try again")
    username = form.get("username", "")[:64]
    address = request.client.host if request.client else ""
    wait_s = c.throttle.locked_for(username, address)
    if wait_s > 0:
        log.warning("sign-in locked out", extra={"user": username, "client": address})
        return render(request, "login.html", None, status_code=429, next=target,
                      error=f"too many failed sign-ins: try again in {max(1, round(wait_s / 60))} min",
                      csrf=auth.login_csrf(c.settings.secret_key, nonce))
    user = await run_in_threadpool(c.store.user_by_name, username)
    # One scrypt whether the name exists or not, on the hashing thread, never on the event loop.
    signed_in = await c.hashing(auth.check_login, form.get("password", ""), user["password_hash"] if user else None)
    if not signed_in or user is None:
        c.throttle.failed(username, address)
        log.info("sign-in failed", extra={"user": username, "client": address})
        return render(request, "login.html", None, status_code=401, next=target,
                      error="wrong user name or password", csrf=auth.login_csrf(c.settings.secret_key, nonce))
    c.throttle.succeeded(username)
    session_id = auth.new_session_id()
    c.store.create_session(auth.session_key(c.settings.secret_key, session_id), user["id"],
                           secrets.token_urlsafe(24), time.time() + c.settings.session_ttl_s)
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(auth.SESSION_COOKIE, session_id, max_age=c.settings.session_ttl_s, httponly=True,
                    samesite="lax", secure=c.settings.secure_cookies)
    resp.delete_cookie(auth.LOGIN_COOKIE)
    return resp


@router.post("/logout", include_in_schema=False)
def logout(request: Request, c: Ctx, _who: Moderator) -> Response:
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        c.store.delete_session(auth.session_key(c.settings.secret_key, cookie))
    resp = RedirectResponse("/login?error=signed-out", status_code=303)
    resp.delete_cookie(auth.SESSION_COOKIE)
    return resp


# -- moderators ---------------------------------------------------------------------


@router.get("/", include_in_schema=False)
def feed(request: Request, c: Ctx, who: Viewer) -> HTMLResponse:
    chosen = {k: query(request.query_params.get(k)) for k in FILTERS}
    rows = c.store.list_alerts(AlertFilter(**chosen, brands=who.scope), limit=200)
    return render(request, "feed.html", who, alerts=[feed_row(r) for r in rows], chosen=chosen,
                  facets=c.store.facet_values(who.scope), categories=CATEGORIES, severities=SEVERITIES,
                  statuses=STATUSES)


@router.get("/alerts/{alert_id}", include_in_schema=False)
def alert_page(request: Request, alert_id: str, c: Ctx, who: Viewer) -> HTMLResponse:
    row = alert_or_404(c, alert_id, who)
    alert = row["alert"]
    root = Path(c.settings.data_dir)
    neighbours = [r["alert"] for r in c.store.list_alerts(AlertFilter(stream=row["stream_id"], brands=who.scope),
                                                          limit=200)
                  if r["alert_id"] != alert_id]
    return render(request, "alert.html", who, row=row, alert=alert,
                  snapshots=evidence.snapshots(alert, root),
                  transcript=evidence.transcript(alert, neighbours),
                  screen_text=evidence.screen_text(alert),
                  stream_link=evidence.safe_stream_link(alert.get("stream_url")),
                  segment=evidence.segment(alert), price=evidence.bound_price(alert),
                  confidence_hint=evidence.CONFIDENCE_HINT, held_for_review=_held_for_review(c, alert),
                  evidence_rows=evidence.evidence_rows(alert),
                  decisions=c.store.decisions_for(alert_id),
                  takedowns=[public_delivery(d, who) for d in c.store.list_deliveries(alert_id)],
                  claimed_by=(c.store.claim_holder(alert_id) or {}).get("username"),
                  media_link=evidence.media_link(alert),
                  evidence_ledger=c.settings.alert_store is not None)


@router.post("/alerts/{alert_id}/decide", include_in_schema=False)
async def decide_form(request: Request, alert_id: str, c: Ctx, who: Moderator) -> Response:
    form = await form_of(request)
    decision = form.get("decision", "")
    if decision not in ("confirm", "dismiss", "escalate"):
        raise HTTPException(422, "choose confirm, dismiss or escalate")
    note = (form.get("note") or "")[:4000].replace("\x00", "")
    await run_in_threadpool(decide, c, alert_id, decision, note, who, form.get("override") == "1")
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


@router.get("/triage", include_in_schema=False)
def triage(request: Request, c: Ctx, who: Moderator) -> HTMLResponse:
    return render(request, "triage.html", who, queue=triage_queue(c))


@router.post("/alerts/{alert_id}/claim", include_in_schema=False)
def claim_form(alert_id: str, c: Ctx, who: Moderator) -> Response:
    claim_alert(c, alert_id, who)
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


# -- ops ------------------------------------------------------------------------------


@router.get("/ops", include_in_schema=False)
def ops(request: Request, c: Ctx, who: Ops) -> HTMLResponse:
    s = c.settings
    files = {k: stages.list_files(d) if d else [] for k, d in (("rules", s.rules_dir), ("lexicons", s.lexicon_dir))}
    return render(request, "ops.html", who, rules=stages.list_rules(s.rules_dir), files=files,
                  figures=c.store.rule_figures(since=time.time() - 30 * 86400))


@router.post("/ops/rules/{rule_id}/mode", include_in_schema=False)
async def ops_mode(request: Request, rule_id: str, c: Ctx, who: Ops) -> Response:
    mode = (await form_of(request)).get("mode", "")
    if mode not in ("enforce", "shadow"):
        raise HTTPException(422, "mode must be enforce or shadow")
    await run_in_threadpool(set_rule_mode, c, rule_id, mode, who)
    return RedirectResponse("/ops", status_code=303)


@router.get("/ops/files/{kind}/{name}", include_in_schema=False)
def ops_file(request: Request, kind: str, name: str, c: Ctx, who: Ops) -> HTMLResponse:
    path = data_file(c, _kind(kind), name)
    content = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    return render(request, "file.html", who, kind=kind, name=name, content=content, errors=[], saved=False)


@router.post("/ops/files/{kind}/{name}", include_in_schema=False)
async def ops_file_save(request: Request, kind: str, name: str, c: Ctx, who: Ops) -> HTMLResponse:
    content = (await form_of(request)).get("content", "").replace("\r\n", "\n")
    try:
        await run_in_threadpool(save_file, c, _kind(kind), name, content, who)
    except HTTPException as exc:
        if exc.status_code not in (400, 422):  # malformed YAML, or a refused edit: show the form again
            raise
        return render(request, "file.html", who, status_code=exc.status_code, kind=kind, name=name, content=content,
                      errors=_refusals(exc), saved=False)
    return render(request, "file.html", who, kind=kind, name=name, content=content, errors=[], saved=True)


@router.get("/ops/explain", include_in_schema=False)
def ops_explain_form(request: Request, who: Ops) -> HTMLResponse:
    return render(request, "explain.html", who, text="", result=None, error=None)


@router.post("/ops/explain", include_in_schema=False)
async def ops_explain(request: Request, c: Ctx, who: Ops) -> HTMLResponse:
    text = (await form_of(request)).get("text", "")[:20000]
    s = c.settings
    result, error = None, None
    try:
        result = (await run_in_threadpool(stages.explain, s.rules_dir, s.lexicon_dir, text, s.brands_dir))["summary"]
    except Exception as exc:  # shown to the ops user, who can fix the rules
        error = str(exc)
    return render(request, "explain.html", who, text=text, result=result, error=error)


# -- admin ------------------------------------------------------------------------------


@router.get("/admin", include_in_schema=False)
def admin(request: Request, c: Ctx, who: Admin) -> HTMLResponse:
    return _admin_page(request, c, who, None)


@router.post("/admin/hooks", include_in_schema=False)
async def admin_hook(request: Request, c: Ctx, who: Admin) -> HTMLResponse:
    form = await form_of(request)
    try:
        hook = HookIn(name=form.get("name", ""), url=form.get("url", "").strip(),
                      brands=[b.strip() for b in form.get("brands", "").split(",") if b.strip()])
    except ValidationError as exc:
        raise HTTPException(422, f"endpoint refused: {exc.errors()[0]['msg']}") from None
    await run_in_threadpool(check_hook_target, c, hook.url)
    secret = hooks.generate_secret()
    c.store.create_hook(hook.name, hook.url, secret, hook.brands)
    return _admin_page(request, c, who, f"hook secret (shown once): {secret}")


@router.post("/admin/hooks/{hook_id}/delete", include_in_schema=False)
def admin_hook_delete(hook_id: int, c: Ctx, _who: Admin) -> Response:
    c.store.deactivate_hook(hook_id)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/tokens", include_in_schema=False)
async def admin_token(request: Request, c: Ctx, who: Admin) -> HTMLResponse:
    form = await form_of(request)
    role = form.get("role", "")
    if role not in ("moderator", "ops", "admin"):
        raise HTTPException(422, "choose a role")
    days = form.get("expires_in_days", "")
    if days and (not days.isdigit() or not 1 <= int(days) <= 3650):
        raise HTTPException(422, "expiry must be 1 to 3650 days, or never")
    token = add_token(c, form.get("name", "token")[:128] or "token", role, int(days) if days else None, who)
    return _admin_page(request, c, who, f"API token (shown once): {token['token']}")


@router.post("/admin/tokens/{token_id}/revoke", include_in_schema=False)
def admin_token_revoke(token_id: int, c: Ctx, _who: Admin) -> Response:
    c.store.revoke_token(token_id)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users", include_in_schema=False)
async def admin_user(request: Request, c: Ctx, who: Admin) -> HTMLResponse:
    form = await form_of(request)
    user = await run_in_threadpool(add_user, c, form.get("username", "")[:64], form.get("password", ""),
                                   form.get("role", ""), _brands(form.get("brands", "")))
    return _admin_page(request, c, who, f"user {user['username']} ({user['role']}) created")


@router.post("/admin/users/{user_id}/role", include_in_schema=False)
async def admin_user_role(request: Request, user_id: int, c: Ctx, who: Admin) -> Response:
    form = await form_of(request)
    change_role(c, user_id, form.get("role", ""), _brands(form.get("brands", "")), who)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{user_id}/delete", include_in_schema=False)
def admin_user_delete(user_id: int, c: Ctx, who: Admin) -> Response:
    delete_user(c, user_id, who)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/deliveries/{delivery_id}/retry", include_in_schema=False)
def admin_retry(delivery_id: int, c: Ctx, _who: Admin) -> Response:
    c.store.requeue_delivery(delivery_id)
    return RedirectResponse("/admin", status_code=303)


def _brands(text: str) -> list[str]:
    return [b.strip() for b in text.split(",") if b.strip()][:100]


def _refusals(exc: HTTPException) -> list[str]:
    """Why ``save_file`` refused an edit: its detail's ``errors`` (the detail itself if it is a bare message)."""
    detail: object = exc.detail
    return list(detail["errors"]) if isinstance(detail, dict) else [str(detail)]


def _kind(kind: str) -> str:
    if kind not in ("rules", "lexicons"):
        raise HTTPException(404, "no such kind of file")
    return kind


def _held_for_review(c: Any, alert: dict[str, Any]) -> str | None:
    """Why a takedown rule's alert only asks for review: its confidence is below the rule's threshold.

    Said only when the rule, at the alert's version, is a takedown rule in the current rule files.
    """
    if alert.get("action") != "review" or alert.get("confidence") is None:
        return None
    rule = next((r for r in stages.list_rules(c.settings.rules_dir)
                 if r["rule_id"] == alert.get("rule_id") and r["version"] == alert.get("rule_version")), None)
    if rule is None or rule["action"] != "takedown":
        return None
    threshold = rule["takedown_confidence"]
    return "held for review: below this rule's takedown confidence" + (
        f" ({evidence.percent(threshold)})" if threshold is not None else "")


def _admin_page(request: Request, c: Any, who: auth.Principal, message: str | None) -> HTMLResponse:
    return render(request, "admin.html", who, hooks=[public_hook(h) for h in c.store.list_hooks()],
                  tokens=c.store.list_tokens(), users=c.store.list_users(), roles=auth.ROLES,
                  deliveries=c.store.list_deliveries(limit=100), created=message)
