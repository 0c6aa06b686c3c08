"""Who is asking: passwords, sessions, API tokens, roles and CSRF.

- Passwords are hashed with scrypt (memory-hard KDF from the standard
  library), salted per user, compared in constant time.
- A browser session is a random cookie; the database keeps only its HMAC
  under the secret key, so a leaked database does not hand out sessions.
- Machines use ``Authorization: Bearer lw_...`` tokens (stored as SHA-256).
- Roles are ranked: rights_holder < moderator < ops < admin; a page names the least role.
  A rights holder only reads its own brands' alerts and evidence bundles.
- Every state-changing request made with a session cookie must carry the
  session's CSRF token (``X-CSRF-Token`` header or ``csrf_token`` form
  field). Bearer-token requests carry no ambient credentials and are exempt.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

ROLES = ("rights_holder", "moderator", "ops", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}
SESSION_COOKIE = "lw_session"
LOGIN_COOKIE = "lw_login"
TOKEN_PREFIX = "lw_"

# scrypt cost: n=2**15, r=8 -> 32 MiB and ~0.1 s per hash on this class of machine.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


@dataclass(frozen=True)
class Principal:
    """The signed-in user or the API token behind a request."""

    name: str
    role: str
    via: str  # "session" or "token"
    csrf: str = ""
    brands: tuple[str, ...] = ()  # a rights holder's brands

    @property
    def scope(self) -> tuple[str, ...] | None:
        """The brands this caller may see, or None for every brand."""
        return self.brands if self.role == "rights_holder" else None

    def may_see(self, brand: str | None) -> bool:
        return self.scope is None or (brand is not None and brand in self.scope)

    def has(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P,
                            maxmem=_SCRYPT_MAXMEM, dklen=32)
    return "$".join(["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=_SCRYPT_MAXMEM, dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def check_login(password: str, stored: str | None) -> bool:
    """One scrypt whether or not the user exists, so response times do not reveal user names."""
    if stored is None:
        verify_password(password, _dummy_hash())
        return False
    return verify_password(password, stored)


@dataclass
class LoginThrottle:
    """Failed sign-ins per user name and per client address; past the limit, a lockout.

    In memory, per process: a restart forgets it, which only gives an attacker a fresh
    allowance of ``max_failures`` guesses per name.
    """

    max_failures: int = 5
    lockout_s: float = 300.0
    per_address_factor: int = 4
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _keys(self, username: str, address: str) -> tuple[tuple[str, int], ...]:
        return (("user:" + username.lower(), self.max_failures),
                ("addr:" + address, self.max_failures * self.per_address_factor))

    def locked_for(self, username: str, address: str, now: float | None = None) -> float:
        """Seconds until ``username`` may try again from ``address`` (0: now)."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        with self._lock:
            for key, limit in self._keys(username, address):
                recent = [t for t in self._failures.get(key, ()) if now - t < self.lockout_s]
                self._failures[key] = recent
                if len(recent) >= limit:
                    wait = max(wait, self.lockout_s - (now - recent[-limit]))
        return wait

    def failed(self, username: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key, _limit in self._keys(username, address):
                self._failures.setdefault(key, []).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop("user:" + username.lower(), None)


def check_new_password(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < 10:
        return "password must be at least 10 characters"
    if len(password) > 1024:
        return "password must be at most 1024 characters"
    return None


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_key(secret_key: str, session_id: str) -> str:
    """What the database stores for a session cookie: its HMAC, not the cookie."""
    return hmac.new(secret_key.encode(), b"session:" + session_id.encode(), hashlib.sha256).hexdigest()


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_key(token: str) -> str:
    """Tokens are 256-bit random, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


def login_csrf(secret_key: str, nonce: str) -> str:
    """The login form's CSRF token, bound to the ``lw_login`` cookie's nonce."""
    return hmac.new(secret_key.encode(), b"login:" + nonce.encode(), hashlib.sha256).hexdigest()


def tokens_match(expected: str, given: str | None) -> bool:
    return bool(expected) and given is not None and hmac.compare_digest(expected.encode(), given.encode())


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
