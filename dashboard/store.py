"""The dashboard's database: SQLite by default, PostgreSQL by URL (SQLAlchemy Core).

One class, :class:`Store`, owns every query so the web layer never writes SQL.
Schema changes are numbered migrations applied in order at start and recorded
in ``schema_migrations``, so an old database is brought forward in place.

Two tables make the dashboard safe to restart: ``outbox`` holds every Kafka
record (decisions, takedown calls, DLQ entries) until the broker took it, and
``deliveries`` holds each takedown call, unique per (alert, endpoint), which is
what makes takedowns idempotent by alert id.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult, Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from events import ConfigError

log = logging.getLogger(__name__)

metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("brands", sa.Text, nullable=False, server_default="[]"),  # migration 3: a rights holder's brands
)
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
    sa.Column("expires_at", sa.Float),  # migration 3; None: never
)
alerts = sa.Table(
    "alerts", metadata,
    sa.Column("alert_id", sa.String(64), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("stream_id", sa.String(256), nullable=False),
    sa.Column("rule_id", sa.String(256), nullable=False),
    sa.Column("rule_version", sa.Integer, nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("brand", sa.String(256)),
    sa.Column("title", sa.Text, nullable=False, default=""),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("detected_at", sa.String(40), nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="new"),
    sa.Column("data", sa.Text, nullable=False),
)
decisions = sa.Table(
    "decisions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("alert_id", sa.String(64), sa.ForeignKey("alerts.alert_id"), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("decided_at", sa.Float, nullable=False),
    sa.Column("rule_id", sa.String(256), nullable=False),
    sa.Column("rule_version", sa.Integer, nullable=False),
)
hooks = sa.Table(
    "hooks", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("brands", sa.Text, nullable=False, default="[]"),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("alert_id", sa.String(64), nullable=False),
    sa.Column("hook_id", sa.Integer, sa.ForeignKey("hooks.id"), nullable=False),
    sa.Column("webhook_id", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_at", sa.Float, nullable=False),
    sa.Column("lease_until", sa.Float, nullable=False, default=0.0),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("alert_id", "hook_id", name="uq_deliveries_alert_hook"),
)
outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("topic", sa.String(256), nullable=False),
    sa.Column("key", sa.String(256), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("sent_at", sa.Float),
)

claims = sa.Table(
    "claims", metadata,
    sa.Column("alert_id", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

_V1_TABLES = (users, sessions, api_tokens, alerts, decisions, hooks, deliveries, outbox)


def _migration_1(conn: Connection) -> None:
    """The initial schema."""
    metadata.create_all(conn, tables=list(_V1_TABLES))  # a fresh database gets later columns at once


def _migration_2(conn: Connection) -> None:
    """Indexes for the feed filters, per-rule figures and the workers' polling."""
    for name, table, cols in (
        ("ix_alerts_received", "alerts", "received_at"),
        ("ix_alerts_rule", "alerts", "rule_id"),
        ("ix_decisions_alert", "decisions", "alert_id"),
        ("ix_deliveries_due", "deliveries", "status, next_at"),
        ("ix_outbox_unsent", "outbox", "sent_at, id"),
    ):
        # Plain DDL: sa.Index objects would attach to the shared Table metadata.
        conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({cols})"))


def _migration_3(conn: Connection) -> None:
    """Token expiry, a rights holder's brands, and moderators' claims on alerts."""
    have = {table: {c["name"] for c in sa.inspect(conn).get_columns(table)} for table in ("api_tokens", "users")}
    if "expires_at" not in have["api_tokens"]:
        conn.execute(sa.text("ALTER TABLE api_tokens ADD COLUMN expires_at FLOAT"))
    if "brands" not in have["users"]:
        conn.execute(sa.text("ALTER TABLE users ADD COLUMN brands TEXT NOT NULL DEFAULT '[]'"))
    claims.create(conn, checkfirst=True)


MIGRATIONS: tuple[tuple[int, Callable[[Connection], None]], ...] = (
    (1, _migration_1), (2, _migration_2), (3, _migration_3))

STATUSES = ("new", "confirmed", "dismissed", "escalated")
DECISIONS = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated"}


def _engine_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the pinned driver), not psycopg2."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str) -> Engine:
    """An engine safe to share between the web threads and the workers."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return sa.create_engine(_engine_url(url), pool_pre_ping=True, pool_size=5, max_overflow=5)


@dataclass(frozen=True)
class AlertFilter:
    """Feed filters; None means any."""

    category: str | None = None
    severity: str | None = None
    stream: str | None = None
    brand: str | None = None
    status: str | None = None
    mode: str | None = None
    rule: str | None = None
    brands: tuple[str, ...] | None = None  # a rights holder's scope: only these brands' alerts


class Store:
    """Every query the dashboard makes. Thread-safe (one engine, short transactions)."""

    def __init__(self, url: str) -> None:
        try:
            self.engine = make_engine(url)
            with self.engine.connect():
                pass
        except Exception as exc:  # the driver's own message says why (auth, host, file)
            raise ConfigError(f"cannot open the dashboard database {_redact(url)}: {exc}; check LIVEWATCH_DB_URL") from exc

    def close(self) -> None:
        self.engine.dispose()

    # -- migrations ---------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply pending migrations in order; returns the versions applied now."""
        applied_now = []
        with self.engine.begin() as conn:
            schema_migrations.create(conn, checkfirst=True)
        for version, step in MIGRATIONS:
            with self.engine.begin() as conn:
                done = conn.execute(
                    sa.select(schema_migrations.c.version).where(schema_migrations.c.version == version)
                ).first()
                if done:
                    continue
                step(conn)
                conn.execute(schema_migrations.insert().values(version=version, applied_at=time.time()))
                applied_now.append(version)
                log.info("dashboard schema migrated", extra={"version": version})
        return applied_now

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema_migrations.c.version))).scalar() or 0)

    # -- users, sessions, tokens -------------------------------------------

    def create_user(self, username: str, password_hash: str, role: str, brands: Iterable[str] = ()) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(users.insert().values(
                username=username, password_hash=password_hash, role=role, created_at=time.time(),
                brands=json.dumps(sorted(set(brands)))))
            return _inserted_id(res)

    def delete_user(self, user_id: int) -> bool:
        """Remove a user and end their sessions (their past decisions keep their name)."""
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.user_id == user_id))
            return conn.execute(users.delete().where(users.c.id == user_id)).rowcount > 0

    def set_role(self, user_id: int, role: str, brands: Iterable[str] = ()) -> bool:
        """Change a user's role (and a rights holder's brands); live sessions see it on their next request."""
        with self.engine.begin() as conn:
            return conn.execute(users.update().where(users.c.id == user_id).values(
                role=role, brands=json.dumps(sorted(set(brands))))).rowcount > 0

    def user(self, user_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id)).mappings().first()
            return _user_row(row) if row else None

    def count_admins(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users)
                                    .where(users.c.role == "admin")).scalar() or 0)

    def set_password(self, username: str, password_hash: str) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(users.update().where(users.c.username == username).values(password_hash=password_hash))
            return res.rowcount > 0

    def user_by_name(self, username: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).mappings().first()
            return _user_row(row) if row else None

    def list_users(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users.c.id, users.c.username, users.c.role, users.c.created_at,
                                          users.c.brands).order_by(users.c.id)).mappings()
            return [_user_row(r) for r in rows]

    def count_users(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() or 0)

    def create_session(self, id_hash: str, user_id: int, csrf: str, expires_at: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.expires_at < time.time()))
            conn.execute(sessions.insert().values(id_hash=id_hash, user_id=user_id, csrf=csrf, expires_at=expires_at))

    def session_user(self, id_hash: str) -> dict[str, Any] | None:
        """The signed-in user of a live session, with the session's CSRF token."""
        query = (sa.select(users.c.id, users.c.username, users.c.role, users.c.brands, sessions.c.csrf)
                 .join(users, users.c.id == sessions.c.user_id)
                 .where(sessions.c.id_hash == id_hash, sessions.c.expires_at > time.time()))
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
            return _user_row(row) if row else None

    def delete_session(self, id_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.id_hash == id_hash))

    def create_token(self, name: str, token_hash: str, role: str, created_by: str,
                     expires_at: float | None = None) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(api_tokens.insert().values(
                name=name, token_hash=token_hash, role=role, created_by=created_by,
                created_at=time.time(), revoked=False, expires_at=expires_at))
            return _inserted_id(res)

    def token(self, token_hash: str) -> dict[str, Any] | None:
        """A token that is neither revoked nor expired."""
        live = sa.or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > time.time())
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_tokens).where(
                api_tokens.c.token_hash == token_hash, api_tokens.c.revoked.is_(False), live)).mappings().first()
            return dict(row) if row else None

    def list_tokens(self) -> list[dict[str, Any]]:
        cols = [c for c in api_tokens.c if c.name != "token_hash"]
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(*cols).order_by(api_tokens.c.id)).mappings()]

    def revoke_token(self, token_id: int) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(revoked=True)).rowcount > 0

    # -- alerts and decisions ----------------------------------------------

    def upsert_alert(self, alert: Mapping[str, Any]) -> bool:
        """Store an alert (``Alert.to_dict()``); a newer revision replaces an older one.

        Returns True when something changed (new alert or newer revision), so
        a redelivered record is not announced twice.
        """
        values = {
            "revision": int(alert.get("revision", 1)),
            "stream_id": str(alert["stream_id"]),
            "rule_id": str(alert["rule_id"]),
            "rule_version": int(alert["rule_version"]),
            "category": str(alert["category"]),
            "severity": str(alert["severity"]),
            "mode": str(alert.get("mode", "enforce")),
            "action": str(alert.get("action", "review")),
            "brand": alert.get("brand"),
            "title": str(alert.get("title") or ""),
            "score": float(alert["score"]),
            "detected_at": str(alert["detected_at"]),
            "data": json.dumps(alert, ensure_ascii=False, sort_keys=True),
        }
        alert_id = str(alert["alert_id"])
        for _ in range(3):
            try:
                with self.engine.begin() as conn:
                    old = conn.execute(sa.select(alerts.c.revision).where(alerts.c.alert_id == alert_id)).first()
                    if old is None:
                        conn.execute(alerts.insert().values(
                            alert_id=alert_id, received_at=time.time(), status="new", **values))
                        return True
                    if old.revision >= values["revision"]:
                        return False
                    conn.execute(alerts.update().where(alerts.c.alert_id == alert_id).values(**values))
                    return True
            except IntegrityError:  # another consumer inserted it meanwhile: read again
                continue
        return False

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(alerts).where(alerts.c.alert_id == alert_id)).mappings().first()
        return _alert_row(row) if row else None

    def list_alerts(self, flt: AlertFilter = AlertFilter(), limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        query = sa.select(alerts)
        for name in ("category", "severity", "brand", "status", "mode"):
            value = getattr(flt, name)
            if value:
                query = query.where(alerts.c[name] == value)
        if flt.stream:
            query = query.where(alerts.c.stream_id == flt.stream)
        if flt.rule:
            query = query.where(alerts.c.rule_id == flt.rule)
        if flt.brands is not None:
            query = query.where(alerts.c.brand.in_(flt.brands))
        query = query.order_by(alerts.c.received_at.desc(), alerts.c.alert_id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_alert_row(r) for r in conn.execute(query).mappings()]

    def facet_values(self, brands: tuple[str, ...] | None = None) -> dict[str, list[str]]:
        """Distinct streams, brands and rules, for the filter drop-downs (of ``brands``' alerts only, if given)."""
        out = {}
        scope = alerts.c.brand.in_(brands) if brands is not None else sa.true()
        with self.engine.connect() as conn:
            for name, col in (("stream", alerts.c.stream_id), ("brand", alerts.c.brand), ("rule", alerts.c.rule_id)):
                rows = conn.execute(sa.select(col).where(col.is_not(None), scope).distinct().order_by(col).limit(500))
                out[name] = [r[0] for r in rows]
        return out

    def add_decision(
        self, alert_id: str, decision: str, note: str, username: str, outbox_topic: str,
    ) -> dict[str, Any]:
        """Record a decision, set the alert's status and queue the Kafka record, atomically."""
        status = DECISIONS[decision]
        now = time.time()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(alerts).where(alerts.c.alert_id == alert_id)).mappings().first()
            if row is None:
                raise KeyError(alert_id)
            res = conn.execute(decisions.insert().values(
                alert_id=alert_id, decision=decision, note=note, username=username, decided_at=now,
                rule_id=row["rule_id"], rule_version=row["rule_version"]))
            conn.execute(alerts.update().where(alerts.c.alert_id == alert_id).values(status=status))
            record = {
                "decision_id": _inserted_id(res),
                "alert_id": alert_id,
                "decision": decision,
                "status": status,
                "note": note,
                "user": username,
                "decided_at": _iso(now),
                "rule_id": row["rule_id"],
                "rule_version": row["rule_version"],
                "stream_id": row["stream_id"],
                "brand": row["brand"],
                "category": row["category"],
                "mode": row["mode"],
            }
            _enqueue(conn, outbox_topic, alert_id, record)
        return record

    # -- claims: one moderator judges an alert at a time ------------------------

    def claim(self, alert_id: str, username: str, ttl_s: float) -> dict[str, Any]:
        """Claim (or renew) ``alert_id`` for ``username``; returns the holder, who may be someone else."""
        now = time.time()
        for _ in range(3):
            try:
                with self.engine.begin() as conn:
                    row = conn.execute(sa.select(claims).where(claims.c.alert_id == alert_id)).mappings().first()
                    if row is None:
                        conn.execute(claims.insert().values(alert_id=alert_id, username=username,
                                                            expires_at=now + ttl_s))
                    elif row["username"] == username or row["expires_at"] <= now:
                        conn.execute(claims.update().where(claims.c.alert_id == alert_id,
                                                           claims.c.username == row["username"]).values(
                            username=username, expires_at=now + ttl_s))
                    else:
                        return dict(row)
                    return {"alert_id": alert_id, "username": username, "expires_at": now + ttl_s}
            except IntegrityError:  # another moderator claimed it meanwhile: read again
                continue
        return self.claim_holder(alert_id) or {"alert_id": alert_id, "username": "", "expires_at": 0.0}

    def claim_holder(self, alert_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(claims).where(claims.c.alert_id == alert_id,
                                                       claims.c.expires_at > time.time())).mappings().first()
            return dict(row) if row else None

    def release(self, alert_id: str, username: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(claims.delete().where(claims.c.alert_id == alert_id, claims.c.username == username))

    def live_claims(self) -> dict[str, str]:
        """{alert id: moderator} of every claim that has not expired."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(claims.c.alert_id, claims.c.username)
                                .where(claims.c.expires_at > time.time())).all()
            return {r[0]: r[1] for r in rows}

    def decisions_for(self, alert_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(decisions).where(decisions.c.alert_id == alert_id)
                                .order_by(decisions.c.id)).mappings()
            return [dict(r) for r in rows]

    def rule_figures(self, since: float = 0.0, bucket_s: int = 86400) -> list[dict[str, Any]]:
        """Per rule: alerts, confirmed, dismissed, escalated, precision, and per-bucket counts.

        Precision is confirmed / (confirmed + dismissed): escalated and
        undecided alerts are not judged yet. Buckets are by the alert's
        arrival time (``bucket_s`` wide, default one day).
        """
        bucket = sa.cast(alerts.c.received_at, sa.Integer) // bucket_s
        query = (sa.select(alerts.c.rule_id, bucket.label("bucket"), alerts.c.status, sa.func.count().label("n"))
                 .where(alerts.c.received_at >= since)
                 .group_by(alerts.c.rule_id, bucket, alerts.c.status))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return _figures(rows, bucket_s)

    # -- takedown hooks -------------------------------------------------------

    def create_hook(self, name: str, url: str, secret: str, brands: Iterable[str]) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(hooks.insert().values(
                name=name, url=url, secret=secret, brands=json.dumps(sorted(set(brands))),
                active=True, created_at=time.time()))
            return _inserted_id(res)

    def list_hooks(self, active_only: bool = False) -> list[dict[str, Any]]:
        query = sa.select(hooks).order_by(hooks.c.id)
        if active_only:
            query = query.where(hooks.c.active.is_(True))
        with self.engine.connect() as conn:
            return [_hook_row(r) for r in conn.execute(query).mappings()]

    def hook(self, hook_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(hooks).where(hooks.c.id == hook_id)).mappings().first()
            return _hook_row(row) if row else None

    def deactivate_hook(self, hook_id: int) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(hooks.update().where(hooks.c.id == hook_id).values(active=False)).rowcount > 0

    def enqueue_deliveries(self, alert_id: str, calls: Iterable[tuple[int, str, str]], reason: str) -> int:
        """Queue one call per (hook_id, webhook_id, payload); an existing (alert, hook) is kept.

        Returns how many new calls were queued: 0 when every endpoint already
        has (or had) a call for this alert, which is the idempotency rule.
        """
        queued = 0
        for hook_id, webhook_id, payload in calls:
            now = time.time()
            try:
                with self.engine.begin() as conn:
                    conn.execute(deliveries.insert().values(
                        alert_id=alert_id, hook_id=hook_id, webhook_id=webhook_id, reason=reason,
                        payload=payload, status="pending", attempts=0, next_at=now, lease_until=0.0,
                        created_at=now, updated_at=now))
                queued += 1
            except IntegrityError:
                continue
        return queued

    def claim_due_deliveries(self, lease_s: float, limit: int = 10) -> list[dict[str, Any]]:
        """Pending calls whose time has come, leased to this worker for ``lease_s``.

        The conditional UPDATE makes the claim safe with several dashboard
        processes on one PostgreSQL database: only one wins each row.
        """
        now = time.time()
        query = (sa.select(deliveries, hooks.c.url, hooks.c.secret, hooks.c.name.label("hook_name"))
                 .join(hooks, hooks.c.id == deliveries.c.hook_id)
                 .where(deliveries.c.status == "pending", deliveries.c.next_at <= now,
                        deliveries.c.lease_until <= now)
                 .order_by(deliveries.c.next_at).limit(limit))
        claimed = []
        with self.engine.begin() as conn:
            for row in conn.execute(query).mappings().all():
                won = conn.execute(deliveries.update().where(
                    deliveries.c.id == row["id"], deliveries.c.lease_until == row["lease_until"],
                    deliveries.c.status == "pending").values(lease_until=now + lease_s)).rowcount
                if won:
                    claimed.append(dict(row))
        return claimed

    def finish_attempt(
        self, delivery_id: int, *, status: str, attempts: int, next_at: float,
        http_status: int | None, error: str | None, records: Iterable[tuple[str, str, Mapping[str, Any]]],
    ) -> None:
        """Record one attempt's outcome and queue its Kafka records in the same transaction."""
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(
                status=status, attempts=attempts, next_at=next_at, lease_until=0.0,
                last_status=http_status, last_error=error, updated_at=now))
            for topic, key, value in records:
                _enqueue(conn, topic, key, value)

    def list_deliveries(self, alert_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        cols = [c for c in deliveries.c if c.name != "payload"]
        query = sa.select(*cols).order_by(deliveries.c.id.desc()).limit(limit)
        if alert_id:
            query = query.where(deliveries.c.alert_id == alert_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def requeue_delivery(self, delivery_id: int) -> bool:
        """Give a dead call a fresh set of attempts (an admin's explicit retry)."""
        with self.engine.begin() as conn:
            return conn.execute(deliveries.update().where(
                deliveries.c.id == delivery_id, deliveries.c.status == "dead").values(
                status="pending", attempts=0, next_at=time.time(), lease_until=0.0)).rowcount > 0

    # -- outbox -------------------------------------------------------------

    def enqueue(self, topic: str, key: str, value: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            _enqueue(conn, topic, key, value)

    def unsent(self, limit: int = 100) -> list[dict[str, Any]]:
        query = sa.select(outbox).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def mark_sent(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        if ids:
            with self.engine.begin() as conn:
                conn.execute(outbox.update().where(outbox.c.id.in_(ids)).values(sent_at=time.time()))


def _enqueue(conn: Connection, topic: str, key: str, value: Mapping[str, Any]) -> None:
    conn.execute(outbox.insert().values(
        topic=topic, key=key, value=json.dumps(value, ensure_ascii=False, sort_keys=True), created_at=time.time()))


def _inserted_id(res: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT made (SQLAlchemy types it optional: not every statement inserts)."""
    key = res.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT returned no primary key")
    return int(key[0])


def _columns(row: RowMapping) -> dict[str, Any]:
    """A result row by column name (``.mappings()`` rows are keyed by name; SQLAlchemy types allow columns too)."""
    return {str(k): v for k, v in row.items()}


def _alert_row(row: RowMapping) -> dict[str, Any]:
    out = {k: v for k, v in _columns(row).items() if k != "data"}
    out["alert"] = json.loads(row["data"])
    return out


def _user_row(row: RowMapping) -> dict[str, Any]:
    out = _columns(row)
    out["brands"] = json.loads(row.get("brands") or "[]")
    return out


def _hook_row(row: RowMapping) -> dict[str, Any]:
    out = _columns(row)
    out["brands"] = json.loads(row["brands"] or "[]")
    return out


def _figures(rows: Iterable[Any], bucket_s: int) -> list[dict[str, Any]]:
    per_rule: dict[str, dict[str, Any]] = {}
    for rule_id, bucket, status, n in rows:
        fig = per_rule.setdefault(rule_id, {"rule_id": rule_id, "alerts": 0, "confirmed": 0, "dismissed": 0,
                                            "escalated": 0, "series": {}})
        fig["alerts"] += n
        if status in ("confirmed", "dismissed", "escalated"):
            fig[status] += n
        point = fig["series"].setdefault(int(bucket), {"alerts": 0, "confirmed": 0, "dismissed": 0})
        point["alerts"] += n
        if status in ("confirmed", "dismissed"):
            point[status] += n
    out = []
    for fig in sorted(per_rule.values(), key=lambda f: f["rule_id"]):
        judged = fig["confirmed"] + fig["dismissed"]
        fig["precision"] = round(fig["confirmed"] / judged, 4) if judged else None
        fig["series"] = [{"start": _iso(b * bucket_s), **p} for b, p in sorted(fig["series"].items())]
        out.append(fig)
    return out


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def _redact(url: str) -> str:
    """The URL without its password, for error messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"
