"""What every page needs: the signed-in person, CSRF tokens, and headers against framing and leaking URLs.

Sessions end when the server says so. The cookie (Flask's signed session) carries a random 256-bit secret; the
server keeps the session under the secret's SHA-256 digest (:mod:`tessera.store.sessions`), with its user, when it
began and when a page last saw it. :func:`current_session` looks it up on every page that asks who is signed in,
and refuses it, clearing the cookie, once it was ended (signing out deletes it; disabling the user or changing
their password ends it), has been idle for ``TESSERA_SESSION_IDLE_TIMEOUT`` seconds, is
``TESSERA_SESSION_MAX_AGE`` seconds old, or its user is disabled. A copy of the cookie dies with the session:
signing the cookie only proves the server made it, not that it still stands for anyone.

CSRF uses the synchronizer-token pattern: a random token in the signed session cookie, echoed in each form
and compared in constant time.
"""

import dataclasses
import hmac
import secrets
from datetime import UTC, datetime

from flask import Flask, Response, abort, request, session
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer

from tessera.config import Settings
from tessera.server.context import ServerContext
from tessera.store import SessionRecord, UserRecord
from tessera.tokens import digest, random_id
from tessera.web.context import current_server

__all__ = [
    "PAGE_HEADERS",
    "SESSION_SECRET",
    "CachedSerializerSessionInterface",
    "SignedIn",
    "add_page_headers",
    "check_csrf",
    "csrf_token",
    "current_session",
    "current_user",
    "sign_in",
    "sign_out",
]

PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self' http: https:",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

#: the key of the session secret in the cookie
SESSION_SECRET = "session"
#: the key of when the cookie must expire (the session's absolute end, Unix seconds)
_EXPIRES = "expires"


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per key rather than on every
    request (Flask builds it even when the request carries no cookie: 11.9 -> 0.65 µs on every page), and a
    signed-in session's cookie expiring when the session does."""

    def __init__(self) -> None:
        self._cached: tuple[object, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._cached
        if cached is None or cached[0] != keys:
            cached = self._cached = (keys, super().get_signing_serializer(app))
        return cached[1]

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        # Flask's would be "now + PERMANENT_SESSION_LIFETIME" at every write of the cookie: a session in use
        # would keep pushing its cookie's end past the session's own
        expires = session.get(_EXPIRES)
        if session.permanent and isinstance(expires, int):
            return datetime.fromtimestamp(expires, UTC)
        return super().get_expiration_time(app, session)


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Abort with 400 unless the form carries this session's CSRF token."""
    expected = session.get("csrf")
    sent = request.form.get("csrf_token", "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), sent.encode()):
        abort(400, description="The form has expired or did not come from this site. Go back and try again.")


# sessions


@dataclasses.dataclass(frozen=True, slots=True)
class SignedIn:
    """The session a request's cookie names, and its user. ``session.auth_time`` and ``session.sid`` are what
    OpenID Connect will put in ID tokens."""

    session: SessionRecord
    user: UserRecord


def _seen_every(settings: Settings) -> int:
    """How often "last seen" is written: once a minute, or twice per idle timeout if that is shorter."""
    return min(60, settings.session_idle_timeout // 2)


def current_session() -> SignedIn | None:
    """The signed-in session of this request, or ``None``: no cookie, or one whose session may no longer be used
    (then the cookie is cleared)."""
    secret = session.get(SESSION_SECRET)
    if not isinstance(secret, str):
        return None
    context = current_server().context
    settings = context.settings
    key = digest(secret)
    found = context.store.sessions.find(key)
    now = context.now()
    idle, max_age = settings.session_idle_timeout, settings.session_max_age
    if found is None or found[1].disabled or not found[0].usable(now, idle_timeout=idle, max_age=max_age):
        session.clear()  # the browser is told to forget the cookie
        return None
    record, user = found
    # Not on every page: that would make every page a write transaction (a commit waits for the disk, and
    # SQLite lets one writer in at a time) to move a timestamp. Written at most once a minute, "last seen" lags
    # by less than that, so the idle timeout may end a session up to a minute early, never late.
    if now - record.last_seen >= _seen_every(settings):
        context.store.sessions.seen(key, now)
        record = dataclasses.replace(record, last_seen=now)
    return SignedIn(record, user)


def current_user() -> UserRecord | None:
    signed_in = current_session()
    return None if signed_in is None else signed_in.user


def sign_in(user: UserRecord) -> None:
    """Start a new session for ``user`` under a new secret (never the cookie's old one: no fixation). A session
    this browser had is ended, so that a copy of its cookie stops working too."""
    context = current_server().context
    _end_this_session(context)
    secret = secrets.token_urlsafe(32)  # 256 bits
    now = context.now()
    context.store.sessions.start(
        SessionRecord(
            digest=digest(secret), sid=random_id(), user_id=user.id, created_at=now, auth_time=now, last_seen=now
        )
    )
    session.clear()
    session[SESSION_SECRET] = secret
    session[_EXPIRES] = now + context.settings.session_max_age
    # permanent: the cookie gets an expiry (the session's absolute end) rather than living as long as the browser
    session.permanent = True


def sign_out() -> None:
    """End this browser's session: its record is deleted, so every copy of the cookie is refused from now on."""
    _end_this_session(current_server().context)
    session.clear()


def _end_this_session(context: ServerContext) -> None:
    secret = session.get(SESSION_SECRET)
    if isinstance(secret, str):
        context.store.sessions.delete(digest(secret))


def add_page_headers(response: Response) -> Response:
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
