"""The moderators' dashboard: live alert feed, review loop, ops pages and takedown hooks.

Public face (the top floor wires ``livewatch dashboard`` with these):

- ``DashboardSettings`` / ``HookOptions``: the typed settings, built by the caller (Kafka: its
  ``kafka`` field, an ``events.kafka.KafkaOptions``).
- ``create_app(settings, streams=None) -> FastAPI``: the ASGI app (store, workers and routes);
  ``streams`` opens a client of the workers' control topics for the ops streams API.
- ``serve(settings, streams=None)``: run it with uvicorn until SIGINT/SIGTERM.
- ``create_user(settings, username, password, role)``: add a user from a CLI.
- ``hooks.verify(secret, headers, body)``: what a takedown receiver runs to check a call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dashboard.settings import DashboardSettings, HookOptions

if TYPE_CHECKING:
    from fastapi import FastAPI

    from dashboard.stages import StreamControlFactory

__all__ = ["DashboardSettings", "HookOptions", "create_app", "create_user", "serve"]


def create_app(settings: DashboardSettings, *, streams: StreamControlFactory | None = None) -> FastAPI:
    """The dashboard ASGI app (see ``dashboard.app``)."""
    from dashboard.app import create_app as _create_app

    return _create_app(settings, streams=streams)


def serve(settings: DashboardSettings, *, streams: StreamControlFactory | None = None) -> None:
    """Serve the dashboard on ``settings.host:settings.port`` until interrupted."""
    import uvicorn

    uvicorn.run(create_app(settings, streams=streams), host=settings.host, port=settings.port, log_config=None,
                proxy_headers=False, timeout_graceful_shutdown=3)


def create_user(settings: DashboardSettings, username: str, password: str, role: str,
                brands: tuple[str, ...] = ()) -> None:
    """Add (or re-password) a user; raises ConfigError with the reason when refused.

    A ``rights_holder`` is bound to ``brands``: it sees only their alerts and evidence.
    """
    from dashboard import auth
    from dashboard.store import Store
    from events import ConfigError

    problem = auth.check_new_password(password)
    if problem or role not in auth.ROLES:
        raise ConfigError(f"user {username}: {problem or 'role must be one of ' + ', '.join(auth.ROLES)}")
    if role == "rights_holder" and not brands:
        raise ConfigError(f"user {username}: a rights holder needs at least one brand")
    store = Store(settings.db_url)
    try:
        store.migrate()
        hashed = auth.hash_password(password)
        if not store.set_password(username, hashed):
            store.create_user(username, hashed, role, brands)
    finally:
        store.close()
