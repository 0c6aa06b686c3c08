"""The JSON API (``/api/...``) and ``/health``: one router, mounted by ``dashboard.app``.

Routes check who is asking (``dashboard.deps``) and call the actions the pages share
(``dashboard.actions``); ``GET /api/openapi.json`` describes them.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, AsyncIterator, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from dashboard import auth, hooks, stages
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
    stage_call,
    triage_queue,
)
from dashboard.deps import Admin, Context, Ctx, Moderator, Ops, Viewer, query, resolve_principal
from dashboard.evidence import snapshot_file
from dashboard.models import DecisionIn, ExplainIn, FileIn, HookIn, ModeIn, RoleIn, StreamId, StreamIn, TokenIn, UserIn
from dashboard.store import AlertFilter

router = APIRouter()


@router.get("/health", tags=["system"])
def health(c: Ctx) -> dict[str, Any]:
    return {"status": "ok", "schema_version": c.store.schema_version()}


@router.get("/api/openapi.json", tags=["system"])
def openapi(request: Request, _who: Moderator) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/api/me", tags=["system"])
def me(who: Viewer) -> dict[str, Any]:
    return {"name": who.name, "role": who.role, "via": who.via} | (
        {"brands": list(who.brands)} if who.scope is not None else {})


@router.get("/api/alerts", tags=["alerts"])
def list_alerts(
    c: Ctx, who: Viewer,
    category: str | None = None, severity: str | None = None, stream: str | None = None,
    brand: str | None = None, status: str | None = None, mode: str | None = None, rule: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    flt = AlertFilter(category=query(category), severity=query(severity), stream=query(stream),
                      brand=query(brand), status=query(status), mode=query(mode), rule=query(rule),
                      brands=who.scope)
    return [feed_row(r) for r in c.store.list_alerts(flt, limit=limit, offset=offset)]


@router.get("/api/queue", tags=["alerts"])
def queue(c: Ctx, who: Moderator, limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[dict[str, Any]]:
    """Undecided alerts to triage: grouped by stream, newest and most severe first, with claims."""
    return triage_queue(c, limit)


@router.get("/api/alerts/{alert_id}", tags=["alerts"])
def get_alert(alert_id: str, c: Ctx, who: Viewer) -> dict[str, Any]:
    row = alert_or_404(c, alert_id, who)
    return {**feed_row(row), "alert": row["alert"], "decisions": c.store.decisions_for(alert_id),
            "takedowns": [public_delivery(d, who) for d in c.store.list_deliveries(alert_id)]}


@router.post("/api/alerts/{alert_id}/decisions", tags=["alerts"], status_code=201,
             responses={409: {"description": "claimed by another moderator, or already decided"}})
def decide_api(alert_id: str, body: DecisionIn, c: Ctx, who: Moderator) -> dict[str, Any]:
    return decide(c, alert_id, body.decision, body.note, who, override=body.override)


@router.post("/api/alerts/{alert_id}/claim", tags=["alerts"],
             responses={409: {"description": "claimed by another moderator"}})
def claim(alert_id: str, c: Ctx, who: Moderator) -> dict[str, Any]:
    return claim_alert(c, alert_id, who)


@router.delete("/api/alerts/{alert_id}/claim", tags=["alerts"], status_code=204)
def unclaim(alert_id: str, c: Ctx, who: Moderator) -> Response:
    alert_or_404(c, alert_id)
    c.store.release(alert_id, who.name)
    c.hub.publish({"type": "claim", "alert_id": alert_id, "user": None})
    return Response(status_code=204)


@router.get("/api/alerts/{alert_id}/evidence/{index}/snapshot", tags=["alerts"],
            responses={200: {"content": {"image/jpeg": {}}}})
def snapshot(alert_id: str, index: Annotated[int, PathParam(ge=0, le=10_000)], c: Ctx,
             who: Viewer) -> FileResponse:
    row = alert_or_404(c, alert_id, who)
    path = snapshot_file(row["alert"], index, Path(c.settings.data_dir))
    if path is None:
        raise HTTPException(404, "no such snapshot")
    return FileResponse(path, media_type="image/jpeg", headers={"cache-control": "private, max-age=3600"})


@router.get("/api/alerts/{alert_id}/evidence/verify", tags=["alerts"])
def verify(alert_id: str, c: Ctx, who: Viewer) -> dict[str, Any]:
    alert_or_404(c, alert_id, who)
    problems = stage_call(stages.verify_evidence, c.settings.alert_store, Path(c.settings.data_dir), alert_id)
    return {"intact": not problems, "problems": problems}


@router.get("/api/alerts/{alert_id}/bundle", tags=["alerts"], responses={200: {"content": {"application/zip": {}}}})
def bundle(alert_id: str, c: Ctx, who: Viewer) -> FileResponse:
    alert_or_404(c, alert_id, who)
    tmp = tempfile.TemporaryDirectory(prefix="lw-bundle-")
    try:
        path = stage_call(stages.evidence_bundle, c.settings.alert_store, Path(c.settings.data_dir), alert_id,
                           Path(tmp.name))
    except BaseException:
        tmp.cleanup()
        raise
    return FileResponse(path, media_type="application/zip", filename=f"evidence-{alert_id}.zip",
                        background=BackgroundTask(tmp.cleanup))


@router.get("/api/events", include_in_schema=False)
async def events(request: Request, c: Ctx, who: Viewer) -> StreamingResponse:
    return StreamingResponse(_sse(request, c, who), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


# -- ops ---------------------------------------------------------------------------


@router.get("/api/rules", tags=["ops"])
def rules_list(c: Ctx, _who: Ops) -> dict[str, Any]:
    s = c.settings
    return {
        "rules": stages.list_rules(s.rules_dir),
        "files": {k: stages.list_files(d) if d else [] for k, d in (("rules", s.rules_dir),
                                                                 ("lexicons", s.lexicon_dir))},
    }


@router.get("/api/files/{kind}/{name}", tags=["ops"])
def read_file(kind: Literal["rules", "lexicons"], name: str, c: Ctx, _who: Ops) -> dict[str, Any]:
    path = data_file(c, kind, name)
    if not path.is_file():
        raise HTTPException(404, f"no {kind} file {name}")
    return {"kind": kind, "name": name, "content": path.read_text(encoding="utf-8", errors="replace")}


@router.put("/api/files/{kind}/{name}", tags=["ops"],
            responses={400: {"description": "not acceptable YAML (syntax, anchors/aliases)"}, 422: {"description": "refused edit"}})
def write_file(kind: Literal["rules", "lexicons"], name: str, body: FileIn, c: Ctx,
               who: Ops) -> dict[str, Any]:
    return save_file(c, kind, name, body.content, who)


@router.post("/api/rules/{rule_id}/mode", tags=["ops"], responses={422: {"description": "refused edit"}})
def rule_mode(rule_id: str, body: ModeIn, c: Ctx, who: Ops) -> dict[str, Any]:
    return set_rule_mode(c, rule_id, body.mode, who)


@router.post("/api/explain", tags=["ops"])
def explain(body: ExplainIn, c: Ctx, _who: Ops) -> dict[str, Any]:
    s = c.settings
    return {"text": body.text, **stage_call(stages.explain, s.rules_dir, s.lexicon_dir, body.text, s.brands_dir)}


@router.get("/api/streams", tags=["ops"])
def streams_list(c: Ctx, _who: Ops) -> dict[str, str]:
    return stage_call(stages.list_streams, c.streams)


@router.put("/api/streams/{stream_id}", tags=["ops"], responses={422: {"description": "bad stream id or URL"}})
def streams_add(stream_id: StreamId, body: StreamIn, c: Ctx, _who: Ops) -> dict[str, str]:
    stage_call(stages.add_stream, c.streams, stream_id, body.url)
    return {"stream_id": stream_id, "url": body.url}


@router.delete("/api/streams/{stream_id}", tags=["ops"], status_code=204)
def streams_remove(stream_id: StreamId, c: Ctx, _who: Ops) -> Response:
    stage_call(stages.remove_stream, c.streams, stream_id)
    return Response(status_code=204)


@router.put("/api/streams/{stream_id}/protection", tags=["ops"], responses={422: {"description": "bad stream id"}})
def streams_protect(stream_id: StreamId, c: Ctx, _who: Ops) -> dict[str, Any]:
    """Protect a watched stream live: its fingerprints go to every worker, so a re-broadcast of it is caught."""
    stage_call(stages.protect_stream, c.streams, stream_id, True)
    return {"stream_id": stream_id, "protected": True}


@router.delete("/api/streams/{stream_id}/protection", tags=["ops"], status_code=204)
def streams_unprotect(stream_id: StreamId, c: Ctx, _who: Ops) -> Response:
    stage_call(stages.protect_stream, c.streams, stream_id, False)
    return Response(status_code=204)


@router.get("/api/figures", tags=["ops"])
def figures(c: Ctx, _who: Ops, days: Annotated[int, Query(ge=1, le=3650)] = 30) -> list[dict[str, Any]]:
    return c.store.rule_figures(since=time.time() - days * 86400)


# -- admin -------------------------------------------------------------------------


@router.get("/api/hooks", tags=["admin"])
def hooks_list(c: Ctx, _who: Admin) -> list[dict[str, Any]]:
    return [public_hook(h) for h in c.store.list_hooks()]


@router.post("/api/hooks", tags=["admin"], status_code=201)
def hooks_add(body: HookIn, c: Ctx, _who: Admin) -> dict[str, Any]:
    check_hook_target(c, body.url)
    secret = body.secret or hooks.generate_secret()
    try:
        hooks.secret_key_bytes(secret)
    except hooks.SignatureError as exc:
        raise HTTPException(422, str(exc)) from None
    hook_id = c.store.create_hook(body.name, body.url, secret, body.brands)
    return {**public_hook(c.store.hook(hook_id)), "secret": secret}


@router.delete("/api/hooks/{hook_id}", tags=["admin"], status_code=204)
def hooks_remove(hook_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], c: Ctx, _who: Admin) -> Response:
    if not c.store.deactivate_hook(hook_id):
        raise HTTPException(404, "no such hook")
    return Response(status_code=204)


@router.get("/api/deliveries", tags=["admin"])
def deliveries(c: Ctx, _who: Admin, alert_id: str | None = None) -> list[dict[str, Any]]:
    return c.store.list_deliveries(query(alert_id))


@router.post("/api/deliveries/{delivery_id}/retry", tags=["admin"])
def delivery_retry(delivery_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], c: Ctx,
                   _who: Admin) -> dict[str, Any]:
    if not c.store.requeue_delivery(delivery_id):
        raise HTTPException(404, "no dead delivery with that id")
    return {"requeued": delivery_id}


@router.get("/api/tokens", tags=["admin"])
def tokens_list(c: Ctx, _who: Admin) -> list[dict[str, Any]]:
    return c.store.list_tokens()


@router.post("/api/tokens", tags=["admin"], status_code=201)
def tokens_add(body: TokenIn, c: Ctx, who: Admin) -> dict[str, Any]:
    return add_token(c, body.name, body.role, body.expires_in_days, who)


@router.delete("/api/tokens/{token_id}", tags=["admin"], status_code=204)
def tokens_revoke(token_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], c: Ctx, _who: Admin) -> Response:
    if not c.store.revoke_token(token_id):
        raise HTTPException(404, "no such token")
    return Response(status_code=204)


@router.get("/api/users", tags=["admin"])
def users_list(c: Ctx, _who: Admin) -> list[dict[str, Any]]:
    return c.store.list_users()


@router.post("/api/users", tags=["admin"], status_code=201)
def users_add(body: UserIn, c: Ctx, _who: Admin) -> dict[str, Any]:
    return add_user(c, body.username, body.password, body.role, body.brands)


@router.patch("/api/users/{user_id}", tags=["admin"], responses={409: {"description": "the last admin"}})
def users_role(user_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], body: RoleIn, c: Ctx,
               who: Admin) -> dict[str, Any]:
    return change_role(c, user_id, body.role, body.brands, who)


@router.delete("/api/users/{user_id}", tags=["admin"], status_code=204,
               responses={409: {"description": "the last admin, or yourself"}})
def users_delete(user_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], c: Ctx, who: Admin) -> Response:
    delete_user(c, user_id, who)
    return Response(status_code=204)

async def _sse(request: Request, c: Context, who: auth.Principal) -> AsyncIterator[bytes]:
    """The live feed; the caller is authorised again every ``sse_reauth_s`` and the stream ends
    as soon as the session is signed out or the token revoked or expired."""
    queue = c.hub.subscribe()
    wait_s = min(c.settings.sse_keepalive_s, c.settings.sse_reauth_s)
    checked = time.monotonic()
    try:
        yield b"retry: 2000\n\n"
        while True:
            idle = False
            try:
                event = await asyncio.wait_for(queue.get(), timeout=wait_s)
            except asyncio.TimeoutError:
                event, idle = None, True
            if time.monotonic() - checked >= c.settings.sse_reauth_s or idle:
                if not await _still_allowed(request, c, who):
                    yield b"event: signed-out\ndata: {}\n\n"
                    return
                checked = time.monotonic()
            if idle:
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
