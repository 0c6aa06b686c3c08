"""The dashboard's one typed configuration object, built by the caller.

The top floor (``livewatch dashboard``) reads ``LIVEWATCH_*`` variables and
builds a :class:`DashboardSettings`; nothing in ``dashboard/`` reads the
environment, so tests build settings directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from events import ConfigError
from events.kafka import KafkaOptions


@dataclass(frozen=True)
class HookOptions:
    """Takedown webhook delivery: retries with exponential backoff, then the DLQ.

    Attempt ``n`` (1-based) that fails is retried after
    ``min(max_backoff_s, initial_backoff_s * 2 ** (n - 1))``; after
    ``max_attempts`` failed attempts the call is given up onto the DLQ topic.
    """

    max_attempts: int = 6
    initial_backoff_s: float = 2.0
    max_backoff_s: float = 600.0
    timeout_s: float = 10.0
    poll_interval_s: float = 0.5
    allow_private_targets: bool = False  # loopback, link-local and private addresses (LIVEWATCH_HOOKS_ALLOW_PRIVATE)


@dataclass(frozen=True)
class DashboardSettings:
    """Everything ``create_app`` needs.

    ``secret_key`` signs the login CSRF cookie and keys session-id hashing:
    it must come from the environment (``LIVEWATCH_SECRET_KEY``), at least 16
    characters. ``data_dir`` is the snapshot root: relative snapshot paths in
    alert evidence resolve under it, and no file outside it is ever served.
    ``alert_store`` is the worker's SQLite alert store (evidence ledger):
    when set, alert pages verify the evidence chain and offer bundles.
    ``kafka`` is the one Kafka section of ``livewatch.config.Config`` (broker,
    security, group timings, topic names); without bootstrap servers the
    dashboard runs without a broker (decisions and takedown logs wait in the
    outbox until one is configured).
    """

    secret_key: str
    db_url: str = "sqlite:///var/dashboard.sqlite3"
    kafka: KafkaOptions = field(default_factory=KafkaOptions)
    data_dir: Path = Path("var/snapshots")
    rules_dir: Path | None = None
    lexicon_dir: Path | None = None
    brands_dir: Path | None = None
    alert_store: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    hooks: HookOptions = field(default_factory=HookOptions)
    deliver_hooks: bool = True
    consumer_group: str = "livewatch-dashboard"
    session_ttl_s: int = 12 * 3600
    secure_cookies: bool = True  # False only for plain-http local use (LIVEWATCH_SECURE_COOKIES=0)
    login_max_failures: int = 5
    login_lockout_s: float = 300.0
    sse_reauth_s: float = 5.0
    initial_admin: tuple[str, str] | None = None
    outbox_poll_s: float = 0.5
    sse_keepalive_s: float = 15.0

    def validate(self) -> DashboardSettings:
        """Raise ConfigError for settings that would make the dashboard unsafe or unusable."""
        if len(self.secret_key or "") < 16:
            raise ConfigError(
                "dashboard secret key is missing or shorter than 16 characters: "
                "set LIVEWATCH_SECRET_KEY to a long random string"
            )
        if not self.db_url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ConfigError(
                f"dashboard database URL {self.db_url!r} is not supported: "
                "use sqlite:///path.sqlite3 or postgresql://user:pass@host/db"
            )
        if self.hooks.max_attempts < 1:
            raise ConfigError("takedown hook max_attempts must be at least 1")
        return self
