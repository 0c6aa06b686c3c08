"""Who is asking: passwords, sessions, API tokens, roles and CSRF.

- Passwords are hashed with scrypt (memory-hard KDF from the standard
  library), salted per user, compared in constant time.
- A browser session is a random cookie; the database keeps only its HMAC
  under the secret key, so a leaked database does not hand out sessions.
- Machines use ``Authorization: Bearer lw_...`` tokens (stored as SHA-256).
- Roles are ranked: moderator < ops < admin; a page names the least role.
- Every state-changing request made with a session cookie must carry the
  session's CSRF token (``X-CSRF-Token`` header or ``csrf_token`` form
  field). Bearer-token requests carry no ambient credentials and are exempt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

ROLES = ("moderator", "ops", "admin")
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
