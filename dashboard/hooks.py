"""Takedown webhooks, signed the Standard Webhooks way, retried, idempotent by alert id.

Each call carries ``webhook-id`` (the same on every retry of one call),
``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``
``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` under the endpoint's
``whsec_<base64 key>`` secret, so a rights holder verifies it with any
Standard Webhooks library.

A call is queued at most once per (alert, endpoint) — the store's unique key —
whether it was triggered by an enforce-mode ``takedown`` rule, by a
moderator's confirm, or both, and however often the alert is redelivered.
Failed attempts are retried with exponential backoff; after
``max_attempts`` the call is given up onto the DLQ topic. Every attempt and
its outcome is also recorded on the takedowns topic (through the outbox).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import urllib.parse
import uuid
from typing import Any, Mapping

import httpx

from dashboard.bus import Worker
from dashboard.settings import HookOptions
from dashboard.store import Store
from events.kafka import KafkaTopics

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
_MSG_NAMESPACE = uuid.UUID("0b8c5f3e-8a36-4d8e-9f0e-3c2a61f4b7d1")


class SignatureError(ValueError):
    """A webhook's signature, timestamp or secret does not check out."""


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_key_bytes(secret: str) -> bytes:
    """The HMAC key of a ``whsec_...`` secret (the base64 part, decoded)."""
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise SignatureError("webhook secret is not base64 after 'whsec_'") from exc
    if len(key) < 16:
        raise SignatureError("webhook secret must hold at least 16 bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, body),
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, tolerance_s: int = 300,
           now: float | None = None) -> None:
    """Check a received call as a receiver would; raises SignatureError when it does not hold."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id, ts_raw, sig_header = lower["webhook-id"], lower["webhook-timestamp"], lower["webhook-signature"]
        ts = int(ts_raw)
    except (KeyError, ValueError) as exc:
        raise SignatureError("missing or malformed webhook-id / webhook-timestamp / webhook-signature") from exc
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        raise SignatureError("webhook-timestamp outside the tolerance")
    expected = sign(secret, msg_id, ts, body).split(",", 1)[1]
    for candidate in sig_header.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return
    raise SignatureError("no webhook-signature matches")


def target_problem(url: str, allow_private: bool) -> str | None:
    """Why ``url`` may not receive takedown calls, or None.

    Loopback, link-local (cloud metadata at 169.254.169.254), private, multicast and reserved
    addresses are refused unless the admin setting ``allow_private_targets`` is on, so hooks
    cannot be aimed at the dashboard's own network. A name is checked by what it resolves to
    now (and again before every call); a name that does not resolve is left to delivery.
    """
    if allow_private:
        return None
    try:
        host = urllib.parse.urlsplit(url).hostname or ""
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):
        return None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            return (f"endpoint {host} is on a loopback, link-local or private address: use a public "
                    "address, or ask an admin to set LIVEWATCH_HOOKS_ALLOW_PRIVATE=1")
    return None


def error_category(exc: httpx.HTTPError) -> str:
    """What went wrong, without the endpoint's own words (they would make hooks a port scanner)."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    return "request failed"


def message_id(alert_id: str, hook_id: int) -> str:
    """Stable per (alert, endpoint): retries reuse it, so receivers can dedupe too."""
    return "msg_" + uuid.uuid5(_MSG_NAMESPACE, f"{alert_id}|{hook_id}").hex


def hook_matches(hook: Mapping[str, Any], brand: str | None) -> bool:
    """An endpoint with no brands takes every alert; otherwise only its brands'."""
    wanted = hook.get("brands") or []
    return not wanted or (brand is not None and brand in wanted)


def takedown_reason(alert: Mapping[str, Any], confirmed: bool) -> str | None:
    """Why an alert calls the takedown hooks now, or None when it must not.

    Shadow alerts never act. Enforce-mode alerts act when their rule's action
    is ``takedown`` (on arrival) or when a moderator confirms them.
    """
    if alert.get("mode", "enforce") != "enforce":
        return None
    if confirmed:
        return "confirmed"
    return "rule" if alert.get("action") == "takedown" else None


def payload(alert: Mapping[str, Any], reason: str, decided_by: str | None = None) -> dict[str, Any]:
    """The JSON body: Standard Webhooks' ``{type, timestamp, data}`` envelope."""
    evidence = [
        {k: e.get(k) for k in ("modality", "text", "matched_terms", "media_start", "media_end",
                               "snapshot_sha256", "brand", "box")}
        for e in alert.get("evidence", ())
    ]
    return {
        "type": "takedown.requested",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data": {
            "alert_id": alert["alert_id"],
            "stream_id": alert["stream_id"],
            "stream_url": alert.get("stream_url"),
            "brand": alert.get("brand"),
            "rule_id": alert["rule_id"],
            "rule_version": alert["rule_version"],
            "category": alert["category"],
            "severity": alert["severity"],
            "title": alert.get("title", ""),
            "media_start": alert["media_start"],
            "media_end": alert["media_end"],
            "detected_at": alert["detected_at"],
            "reason": reason,
            "decided_by": decided_by,
            "evidence": evidence,
        },
    }


def request_takedown(store: Store, alert: Mapping[str, Any], *, confirmed: bool = False,
                     decided_by: str | None = None) -> int:
    """Queue calls to every matching endpoint for this alert; returns how many are new."""
    reason = takedown_reason(alert, confirmed)
    if reason is None:
        return 0
    body = json.dumps(payload(alert, reason, decided_by), ensure_ascii=False, sort_keys=True)
    calls = [
        (hook["id"], message_id(alert["alert_id"], hook["id"]), body)
        for hook in store.list_hooks(active_only=True)
        if hook_matches(hook, alert.get("brand"))
    ]
    queued = store.enqueue_deliveries(alert["alert_id"], calls, reason)
    if queued:
        log.info("takedown queued", extra={"stream_id": alert["stream_id"], "alert_id": alert["alert_id"],
                                           "endpoints": queued, "reason": reason})
    return queued


def backoff_s(options: HookOptions, attempts: int) -> float:
    """Delay after the ``attempts``-th failure: initial * 2^(attempts-1), capped."""
    return min(options.max_backoff_s, options.initial_backoff_s * 2.0 ** max(0, attempts - 1))


class HookDeliverer(Worker):
    """Background thread that makes due takedown calls and records their outcomes."""

    name = "takedown-hooks"

    def __init__(self, store: Store, options: HookOptions, topics: KafkaTopics) -> None:
        super().__init__()
        self.store = store
        self.options = options
        self.topics = topics
        self._client: httpx.Client | None = None

    def step(self) -> None:
        if self._client is None:
            self._client = httpx.Client(timeout=self.options.timeout_s, follow_redirects=False, trust_env=False)
        if not self.run_once(self._client):
            self._stop.wait(self.options.poll_interval_s)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def run_once(self, client: httpx.Client) -> int:
        """Make every call that is due now; returns how many were attempted."""
        due = self.store.claim_due_deliveries(lease_s=self.options.timeout_s * 10 + 30)
        for delivery in due:
            if self._stop.is_set():
                break
            self._attempt(client, delivery)
        return len(due)

    def _attempt(self, client: httpx.Client, d: Mapping[str, Any]) -> None:
        body = d["payload"].encode()
        headers = signed_headers(d["secret"], d["webhook_id"], body)
        http_status: int | None = None
        error: str | None = None
        refused = target_problem(d["url"], self.options.allow_private_targets)
        try:
            if refused:
                error = "target address not allowed"
            else:
                resp = client.post(d["url"], content=body, headers=headers)
                http_status = resp.status_code
                if not 200 <= resp.status_code < 300:
                    error = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            error = error_category(exc)
        attempts = int(d["attempts"]) + 1
        now = time.time()
        if error is None:
            status, next_at, outcome = "delivered", now, "delivered"
        elif attempts >= self.options.max_attempts:
            status, next_at, outcome = "dead", now, "dead"
        else:
            status, next_at, outcome = "pending", now + backoff_s(self.options, attempts), "retry"
        record = {
            "alert_id": d["alert_id"], "webhook_id": d["webhook_id"], "hook_id": d["hook_id"],
            "hook_name": d["hook_name"], "url": d["url"], "reason": d["reason"], "attempt": attempts,
            "outcome": outcome, "http_status": http_status, "error": error,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        }
        records = [(self.topics.takedowns, d["alert_id"], record)]
        if status == "dead":
            records.append((self.topics.takedowns_dlq, d["alert_id"], {**record, "payload": json.loads(d["payload"])}))
        self.store.finish_attempt(d["id"], status=status, attempts=attempts, next_at=next_at,
                                  http_status=http_status, error=error, records=records)
        level = logging.INFO if error is None else logging.WARNING
        log.log(level, "takedown call %s", outcome, extra={"alert_id": d["alert_id"], "url": d["url"],
                                                            "attempt": attempts, "error": error})
