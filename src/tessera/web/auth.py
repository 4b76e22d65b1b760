"""Sign-in and sign-out. A wrong password and an unknown username look exactly alike, in words and in time,
and so does the wait imposed after too many failures (:mod:`tessera.ratelimit`). The typed username is looked
up and counted in its normal form (:func:`tessera.server.accounts.normalise_username`): ``ALICE`` is ``alice``."""

from urllib.parse import parse_qs, urlsplit

from authlib.oauth2 import OAuth2Error
from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tessera.passwords import verify_password
from tessera.server.accounts import normalise_username
from tessera.server.audit import Event
from tessera.web.context import current_server
from tessera.web.security import allow_form_redirect, check_csrf, csrf_token, current_user, sign_in, sign_out

__all__ = ["home", "logged_out", "login", "logout", "safe_next", "wait_words"]

_MAX_FIELD = 1024


def safe_next(target: str | None) -> str:
    """Only a path on this server: never an open redirect (RFC 9700 §4.11)."""
    if not target:
        return url_for("home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("home")
    return target


def wait_words(seconds: int) -> str:
    """How long to wait, in words: "a minute", "7 minutes", "2 hours"."""
    if seconds <= 60:
        return "a minute"
    if seconds < 3600:
        return f"{-(-seconds // 60)} minutes"
    hours = -(-seconds // 3600)
    return "an hour" if hours == 1 else f"{hours} hours"


def _client_name(next_url: str) -> str | None:
    """The application the person is signing in for, when they came from the authorization endpoint. Signing in
    then redirects to ``/authorize``, which may redirect on to the client at once (consent given before): the
    form may end at the client's redirect URI, if it is one the client registered."""
    parts = urlsplit(next_url)
    if parts.path != "/authorize":
        return None
    query = parse_qs(parts.query)
    try:
        client = current_server().query_client(query.get("client_id", [""])[0])
    except OAuth2Error:  # a client ID metadata document that cannot be used: /authorize will say so
        return None
    if client is None:
        return None
    redirect_uri = query.get("redirect_uri", [""])[0]
    if client.check_redirect_uri(redirect_uri):
        allow_form_redirect(redirect_uri)
    return client.document_host or client.name


def _form(error: str | None = None, username: str = "") -> str:
    next_url = safe_next(request.values.get("next"))
    return render_template(
        "auth/login.html",
        csrf_token=csrf_token(),
        error=error,
        username=username,
        next_url=next_url,
        client_name=_client_name(next_url),
    )


def login() -> ResponseReturnValue:
    if request.method == "GET":
        return _form()
    check_csrf()
    username = request.form.get("username", "").strip()[:_MAX_FIELD]
    password = request.form.get("password", "")[:_MAX_FIELD]
    # the name as stored: "Alice" is "alice", and so is the account whose failures are counted
    account = normalise_username(username)
    context = current_server().context
    limits, address = context.rate_limits, request.remote_addr
    verdict = limits.login_attempt(account, address)  # counted as a failure until it turns out a success
    metrics, audit = context.metrics, context.audit
    # the audit trail names the account as typed (normalised, cut to the column's size), never the password
    named = account[:150] or None
    if not verdict.allowed:
        metrics.sign_in("rate_limited")
        metrics.limited()
        audit.emit(Event.SIGN_IN_FAILED, outcome="failure", user=named, reason="rate limited")
        # decided before the password is looked at: a right password waits too, and the answer is the same
        # whether or not the account exists
        message = f"Too many sign-in attempts. Please wait {wait_words(verdict.retry_after)} and try again."
        return _form(message, username), 429, {"Retry-After": str(verdict.retry_after)}
    user = context.store.users.by_name(account) if account else None
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        metrics.sign_in("failure")
        reason = "unknown user" if user is None else "wrong password" if not ok else "user disabled"
        audit.emit(Event.SIGN_IN_FAILED, outcome="failure", user=named, reason=reason)
        return _form("That username and password do not match. Please try again.", username)
    limits.login_succeeded(verdict)
    sign_in(user)
    metrics.sign_in("success")
    audit.emit(Event.SIGN_IN_SUCCEEDED, user=user.username)
    return redirect(safe_next(request.form.get("next")), code=303)


def logout() -> ResponseReturnValue:
    """GET asks, POST (with the CSRF token) signs out: another site cannot sign people out with a link."""
    if request.method == "GET":
        user = current_user()
        if user is None:
            return render_template("auth/logged_out.html")
        return render_template("auth/logout.html", csrf_token=csrf_token(), username=user.username)
    check_csrf()
    user = current_user()
    sign_out()
    if user is not None:
        current_server().context.audit.emit(Event.SIGNED_OUT, user=user.username)
    return redirect(url_for("logged_out"), code=303)


def logged_out() -> str:
    return render_template("auth/logged_out.html")


def home() -> ResponseReturnValue:
    user = current_user()
    if user is None:
        return redirect(url_for("login"), code=302)
    return render_template("auth/home.html", username=user.username)
