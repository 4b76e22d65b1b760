"""What every page needs: the signed-in user, CSRF tokens, and headers against framing and leaking URLs.

CSRF uses the synchronizer-token pattern: a random token in the signed session cookie, echoed in each form
and compared in constant time.
"""

import hmac
import secrets

from flask import Flask, Response, abort, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from tessera.store import UserRecord
from tessera.web.context import current_server

__all__ = [
    "PAGE_HEADERS",
    "CachedSerializerSessionInterface",
    "check_csrf",
    "csrf_token",
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


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per key rather than on every
    request (Flask builds it even when the request carries no cookie: 11.9 -> 0.65 µs on every page)."""

    def __init__(self) -> None:
        self._cached: tuple[object, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._cached
        if cached is None or cached[0] != keys:
            cached = self._cached = (keys, super().get_signing_serializer(app))
        return cached[1]


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


def current_user() -> UserRecord | None:
    uid = session.get("uid")
    if not isinstance(uid, int):
        return None
    user = current_server().context.store.users.by_id(uid)
    if user is None or user.disabled:
        session.pop("uid", None)
        return None
    return user


def sign_in(user: UserRecord) -> None:
    session.clear()  # a fresh session on sign-in: no fixation
    session["uid"] = user.id
    session.permanent = False


def sign_out() -> None:
    session.clear()


def add_page_headers(response: Response) -> Response:
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
