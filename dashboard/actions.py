"""What the JSON API and the HTML pages both do: decisions, claims, the triage queue, rule
and lexicon edits, users, tokens; and the helpers that turn a missing alert or stage into
the right HTTP error.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, ParamSpec, TypeVar

from fastapi import HTTPException

from dashboard import auth, evidence, hooks, stages
from dashboard.deps import MAX_FILE_CHARS, Context, query
from dashboard.store import AlertFilter
from events import LivewatchError

_P = ParamSpec("_P")
_T = TypeVar("_T")

log = logging.getLogger(__name__)

CLAIM_TTL_S = 300.0


def decide(c: Context, alert_id: str, decision: str, note: str, who: auth.Principal,
           override: bool = False) -> dict[str, Any]:
    """Store and publish a decision; a confirm of an enforce-mode alert calls the takedown hooks.

    Refused (409) while another moderator holds the alert's claim, and, unless ``override``,
    when the alert was already actioned: the moderator is warned first.
    """
    row = alert_or_404(c, alert_id)
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
    row = alert_or_404(c, alert_id)
    holder = c.store.claim(alert_id, who.name, CLAIM_TTL_S)
    if holder["username"] != who.name:
        raise HTTPException(409, f"{holder['username']} is judging this alert now: pick another one")
    c.hub.publish({"type": "claim", "alert_id": alert_id, "user": who.name, "brand": row["brand"]})
    return {"alert_id": alert_id, "user": who.name, "expires_in_s": CLAIM_TTL_S}


SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def triage_queue(c: Context, limit: int = 200) -> list[dict[str, Any]]:
    """Undecided enforce-mode alerts, grouped by stream; streams and alerts newest-highest first."""
    rows = [feed_row(r) for r in c.store.list_alerts(AlertFilter(status="new"), limit=limit)]
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
    try:
        return datetime.fromisoformat(detected_at.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return fallback


def save_file(c: Context, kind: str, name: str, content: str, who: auth.Principal) -> dict[str, Any]:
    """Validate an edit like ``livewatch rules check`` would; only a clean set is written."""
    path = data_file(c, kind, name)
    refused = stages.creation_refused(path)
    if refused:
        raise HTTPException(403, refused)
    if len(content) > MAX_FILE_CHARS:
        raise HTTPException(422, {"message": f"{name}: edit refused",
                                  "errors": [f"{name}: larger than {MAX_FILE_CHARS:,} characters: split it"]})
    malformed = stages.yaml_errors(name, content)  # streaming parse: an alias bomb is refused before it expands
    if malformed:
        raise HTTPException(400, {"message": f"{name}: not acceptable YAML", "errors": malformed})
    errors = stage_call(stages.check_edit, c.settings.rules_dir, c.settings.lexicon_dir, kind, name, content)
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
    path = data_file(c, "rules", name)
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


def alert_or_404(c: Context, alert_id: str, who: auth.Principal | None = None) -> dict[str, Any]:
    row = c.store.alert(query(alert_id) or "")
    if row is None or (who is not None and not who.may_see(row["brand"])):
        raise HTTPException(404, f"no alert {alert_id}")
    return row


def data_file(c: Context, kind: str, name: str) -> Path:
    try:
        folder = stages.data_dir(c.settings.rules_dir, c.settings.lexicon_dir, kind)
        return stages.file_path(folder, name)
    except stages.Unavailable as exc:
        raise HTTPException(503, str(exc)) from None
    except KeyError:
        raise HTTPException(404, f"{name!r} is not an editable {kind} file name") from None


def stage_call(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Stage features that are not installed or configured answer 503 with the reason."""
    try:
        return fn(*args, **kwargs)
    except stages.Unavailable as exc:
        raise HTTPException(503, str(exc)) from None
    except LivewatchError as exc:
        raise HTTPException(422, str(exc)) from None
    except KeyError as exc:
        raise HTTPException(404, f"not found: {exc}") from None


def feed_row(row: dict[str, Any]) -> dict[str, Any]:
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


def public_hook(hook: dict[str, Any] | None) -> dict[str, Any]:
    """A hook without its secret (shown once, at creation)."""
    return {k: v for k, v in (hook or {}).items() if k != "secret"}
