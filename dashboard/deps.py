"""What every route shares: the app's state, who is asking, and input hygiene.

``Context`` is the running app's state (settings, store, live hub, workers); the
dependencies ``Viewer``, ``Moderator``, ``Ops`` and ``Admin`` resolve the caller from
an API token or the session cookie (and check CSRF on state changes), so every route
of ``dashboard.api`` and ``dashboard.pages`` but ``/health`` and the sign-in form
requires a signed-in user or a token.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any, Awaitable, Callable

from fastapi import Depends, HTTPException, Request
from pydantic import AfterValidator

from dashboard import auth, hooks, stages
from dashboard.bus import LiveHub
from dashboard.settings import DashboardSettings
from dashboard.store import Store

MAX_FILE_CHARS = 1_000_000  # a rule or lexicon file, through the API and the form alike
FORM_MAX_BYTES = 9 * MAX_FILE_CHARS + 65_536  # that many characters, UTF-8 and percent-encoded


@dataclass
class Context:
    settings: DashboardSettings
    store: Store
    streams: stages.StreamControlFactory | None = None  # the workers' control topic, when configured
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
    c: Context = request.app.state.ctx
    return c


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
        sent = (await request.form(max_part_size=FORM_MAX_BYTES)).get("csrf_token")
        given = sent if isinstance(sent, str) else None  # a file is not a token
    if not auth.tokens_match(who.csrf, given):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def require(role: str) -> Callable[[Request, auth.Principal], Awaitable[auth.Principal]]:
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


def query(value: str | None) -> str | None:
    """A query parameter as plain text, None when empty; 422 for text no database can store."""
    if value is None or value == "":
        return None
    try:
        return _plain(value)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
