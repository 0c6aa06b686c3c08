"""``livewatch dashboard``: the moderators' web app, configured from the environment.

Secrets come from the environment only (never flags, which show in ``ps``):

- ``LIVEWATCH_SECRET_KEY`` (required, 16+ characters) signs sessions;
- ``LIVEWATCH_ADMIN_PASSWORD`` (optional) creates the first admin user
  (``LIVEWATCH_ADMIN_USER``, default ``admin``) when the database has no user;
- ``LIVEWATCH_DB_URL`` (default: SQLite in the data directory) may hold a password.

Security switches (README, "the dashboard"): ``LIVEWATCH_SECURE_COOKIES`` (default on; ``0`` only
for plain-http local use), ``LIVEWATCH_HOOKS_ALLOW_PRIVATE`` (default off),
``LIVEWATCH_LOGIN_MAX_FAILURES`` and ``LIVEWATCH_LOGIN_LOCKOUT_S``.

The rest follows :class:`livewatch.config.Config`: ``LIVEWATCH_KAFKA`` (and the other
``LIVEWATCH_KAFKA_*`` settings: security, group timings, topic names),
``LIVEWATCH_DATA_DIR`` (snapshots under ``data_dir/snapshots``, the alert
store of a one-machine setup at ``data_dir/alerts.sqlite3``), ``LIVEWATCH_RULES_DIR``,
``LIVEWATCH_LEXICON_DIR``, ``LIVEWATCH_BRANDS_DIR``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import TYPE_CHECKING, Callable, Mapping

from dashboard import DashboardSettings
from events import ConfigError
from events.kafka import KafkaOptions
from livewatch.config import ENV_PREFIX, Config, env_flag, env_int
from livewatch.signals import stop_on_signals

if TYPE_CHECKING:
    from livewatch.assignment import StreamControl


def dashboard_settings(cfg: Config, env: Mapping[str, str], *, host: str | None = None, port: int | None = None) -> DashboardSettings:
    """Settings for ``dashboard.serve`` from the config and the ``LIVEWATCH_*`` secrets in ``env``."""
    secret = env.get(ENV_PREFIX + "SECRET_KEY", "")
    if len(secret) < 16:
        raise ConfigError("LIVEWATCH_SECRET_KEY is missing or shorter than 16 characters: set it to a long random string")
    password = env.get(ENV_PREFIX + "ADMIN_PASSWORD")
    admin = (env.get(ENV_PREFIX + "ADMIN_USER") or "admin", password) if password else None
    defaults = DashboardSettings(secret_key=secret)
    settings = DashboardSettings(
        secret_key=secret,
        db_url=env.get(ENV_PREFIX + "DB_URL") or f"sqlite:///{(cfg.data_dir / 'dashboard.sqlite3').resolve()}",
        kafka=cfg.kafka,
        data_dir=cfg.snapshot_dir,
        rules_dir=cfg.rules_dir,
        lexicon_dir=cfg.lexicon_dir,
        brands_dir=cfg.brands_dir,
        alert_store=cfg.store_path if cfg.store_path.is_file() else None,
        host=host or defaults.host,
        port=defaults.port if port is None else port,
        secure_cookies=env_flag(env, "SECURE_COOKIES", True),
        hooks=dataclasses.replace(defaults.hooks, allow_private_targets=env_flag(env, "HOOKS_ALLOW_PRIVATE", False)),
        login_max_failures=env_int(env, "LOGIN_MAX_FAILURES", defaults.login_max_failures),
        login_lockout_s=float(env_int(env, "LOGIN_LOCKOUT_S", int(defaults.login_lockout_s))),
        initial_admin=admin,
    )
    return settings.validate()


class StreamsClient:
    """What the dashboard's streams API opens per request: the workers' control topics, what to
    watch (``livewatch.assignment.StreamControl``, refusing bad source URLs before they reach any
    worker) and what to protect live (``livewatch.live_protect.ProtectControl``)."""

    def __init__(self, kafka: KafkaOptions) -> None:
        from ingest import validate_source
        from livewatch.assignment import StreamControl
        from livewatch.live_protect import ProtectControl

        self._watch: StreamControl = StreamControl(kafka, validate_url=validate_source)
        self._protect = ProtectControl(kafka)

    def list(self) -> dict[str, str]:
        return self._watch.list()

    def add(self, stream_id: str, url: str) -> None:
        self._watch.add(stream_id, url)

    def remove(self, stream_id: str) -> None:
        self._watch.remove(stream_id)

    def protect(self, stream_id: str, on: bool) -> None:
        self._protect.set(stream_id, on)

    def close(self) -> None:
        self._watch.close()


def stream_control(kafka: KafkaOptions) -> Callable[[], StreamsClient] | None:
    """The streams API's client factory for ``create_app(streams=...)``; None without a broker."""
    if not kafka.bootstrap_servers:
        return None
    return functools.partial(StreamsClient, kafka)


def run_dashboard(cfg: Config, *, host: str | None = None, port: int | None = None, env: Mapping[str, str] | None = None) -> int:
    """Serve the dashboard until SIGINT/SIGTERM, then exit 0.

    uvicorn shuts down gracefully on either signal and then raises it again for the handler it
    found installed; with Python's defaults SIGTERM would kill the process (exit -15) after a clean
    shutdown. ``stop_on_signals`` is that handler here, so the re-raised signal only sets an event.
    """
    from dashboard import serve

    settings = dashboard_settings(cfg, os.environ if env is None else env, host=host, port=port)
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    with stop_on_signals():
        serve(settings, streams=stream_control(cfg.kafka))
    return 0
