"""The demo client app: a Flask web application that logs people in through Tessera and calls the demo API
with their access token, as the system Tessera grew out of did (Authlib's Flask client).

Routes (what the README promises of the demo app): ``/``, ``/login``, ``/authorize`` (the redirect URI),
``/protected`` and ``/logout``; and ``/logged-out``, where signing out at the server comes back to.

Where a real client has to choose, this one does so:

* The authorization code flow with PKCE S256 and ``state``, as a confidential client, through Authlib's Flask
  client (set up in :mod:`tessera.demo.remote`, with everything else the app sends).
* RFC 9207: the callback refuses an answer whose ``iss`` is not the issuer of that metadata, before it looks at
  anything else. Authlib's client does not check ``iss``, so the app does.
* Who the user is: the app signs people in with OpenID Connect (scope ``openid profile``). Authlib's client sends
  a ``nonce``, and on the callback verifies the ID token's signature against the server's JWKS, its ``iss``,
  ``aud``, ``exp`` and the nonce; the app shows its ``preferred_username``. If the person unchecked ``openid`` or
  ``profile`` on the consent page, there is no such claim: the app then introspects its own access token
  (RFC 7662: a client may always introspect its own tokens) for the username.
* Tokens stay on the app's server (:class:`~tessera.demo.token_jar.TokenJar`); pages show the granted scope and
  the remaining lifetime, never a token.
* An access token that expires within ``refresh_leeway`` seconds is refreshed before the API is called: Authlib
  does it and hands the new pair to ``update_token``, which must keep it because Tessera rotates refresh tokens.
* ``/login`` and ``/logout`` act only on a POST carrying the session's CSRF token (the synchronizer-token
  pattern the server's pages use): otherwise another site could, with a link or an image, start a login (which
  completes by itself once the server remembers the consent) or end one. ``GET /login`` only sends people to
  ``/``, where the button is; ``GET /logout`` asks, with the button.
* ``/logout`` revokes the refresh token (RFC 7009; Tessera then revokes every token of the grant), forgets the
  session, then sends the person to the server's ``end_session_endpoint`` (OpenID Connect RP-Initiated Logout)
  with the ID token as ``id_token_hint``, the app's registered ``/logged-out`` page as the
  ``post_logout_redirect_uri`` and a fresh ``state``: once they press "Sign out" there, they are signed out of the
  server too, and ``/logged-out`` (if the state is the one this browser was given) shows what the revocation did
  and what the API answers to the old access token. Without an ID token (``openid`` unchecked) or an
  end-session endpoint, that page is shown at once and the server's own sign-out page is linked.
* An error answer (``?error=...``) is shown only if its ``state`` is one this app sent and still keeps; any other
  is refused with 400 and its words are not shown, so nobody can put a message of theirs on the app's page with a
  link. (Authlib's client reports an error before it looks at the state.)
"""

import dataclasses
import hmac
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from authlib.integrations.flask_client import OAuthError
from flask import Blueprint, Flask, Response, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from tessera.demo.remote import ApiCall, ClientAppConfig, Remote
from tessera.demo.token_jar import Token, TokenJar

__all__ = ["ApiCall", "ClientAppConfig", "create_client_app"]

_HERE = Path(__file__).resolve().parent
_PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    # the callback URL carries the code: never send it on in a Referer
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class _Client:
    """What the views share: the configuration, the conversation with the server and the API, the tokens."""

    def __init__(self, app: Flask, config: ClientAppConfig) -> None:
        self.config = config
        self.jar = TokenJar()
        self.remote = Remote(app, config, update_token=_keep_refreshed_token)


def _client() -> _Client:
    return current_app.extensions["tessera.demo.client"]  # type: ignore[no-any-return]


def _keep_refreshed_token(token: Token, refresh_token: str | None = None, access_token: str | None = None) -> None:
    """Authlib's ``update_token``: store the rotated pair; the old refresh token is spent."""
    _client().jar.replace(session.get("sid", ""), dict(token))
    g.refreshed = True


bp = Blueprint("app", __name__)


def create_client_app(config: ClientAppConfig) -> Flask:
    """Build the demo client app for one authorization server and one API."""
    app = Flask(
        "tessera.demo.client_app",
        template_folder=str(_HERE / "templates"),
        static_folder=str(_HERE / "static"),
        static_url_path="/static",
    )
    app.config.update(
        SECRET_KEY=str(config.secret_key),
        # every demo service lives on 127.0.0.1 and cookies ignore ports: a name of its own, apart from the server's
        SESSION_COOKIE_NAME="tessera_demo_app",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["tessera.demo.client"] = _Client(app, config)
    app.jinja_env.globals["csrf_token"] = _csrf_token
    app.register_blueprint(bp)
    app.after_request(_add_page_headers)
    app.register_error_handler(requests.RequestException, _unreachable)
    return app


def _add_page_headers(response: Response) -> Response:
    if response.mimetype == "text/html":
        for name, value in _PAGE_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def _unreachable(exc: requests.RequestException) -> ResponseReturnValue:
    return _error(
        "The authorization server does not answer",
        f"The app could not reach {_client().config.issuer} ({type(exc).__name__}). Is it running?",
        502,
    )


def _error(title: str, message: str, status: int, code: str | None = None) -> ResponseReturnValue:
    return render_template("app/error.html", title=title, message=message, code=code), status


def _csrf_token() -> str:
    """This session's CSRF token, made on first use; every form of the app carries it."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _csrf_refused() -> ResponseReturnValue | None:
    """None if the form carries this session's CSRF token (compared in constant time), else the 400 page."""
    expected = session.get("csrf")
    sent = request.form.get("csrf_token", "")
    if isinstance(expected, str) and hmac.compare_digest(expected.encode(), sent.encode()):
        return None
    message = "The form has expired or did not come from this app. Go back to the start and try again."
    return _error("This request is refused", message, 400)


def _where(url: str) -> str:
    return urlsplit(url).netloc


def _signed_in() -> tuple[str, Token] | None:
    sid = session.get("sid")
    token = _client().jar.get(sid) if isinstance(sid, str) else None
    return None if token is None else (str(sid), token)


@bp.get("/")
def home() -> ResponseReturnValue:
    config = _client().config
    return render_template(
        "app/home.html",
        username=session.get("username") if _signed_in() else None,
        server=_where(config.issuer),
        api=_where(config.api_base_url),
        scopes=config.scope.split(),
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":  # a link starts nothing: the button on the home page does
        return redirect(url_for("app.home"), code=303)
    refused = _csrf_refused()
    if refused is not None:
        return refused
    client = _client()
    oauth = client.remote.oauth
    # Authlib makes the state and the PKCE verifier and sends the S256 challenge; the app keeps the state data in
    # the session and answers the POST with 303, as Authlib's authorize_redirect would with 302
    extra = {} if client.config.resource is None else {"resource": client.config.resource}
    authorization = oauth.create_authorization_url(client.config.redirect_uri, scope=client.config.scope, **extra)
    oauth.save_authorize_data(redirect_uri=client.config.redirect_uri, **authorization)
    return redirect(authorization["url"], code=303)


def _issuer_problem(metadata: dict[str, Any], iss: str | None) -> str | None:
    """RFC 9207 §2.4: the ``iss`` of the answer must be the issuer we started with; required where advertised."""
    if iss is None:
        if metadata.get("authorization_response_iss_parameter_supported"):
            return "The answer has no iss parameter, although the authorization server always sends one."
        return None
    if iss != metadata.get("issuer"):
        return "The answer names a different authorization server (iss) than the one this app sent you to."
    return None


_UNKNOWN_STATE = "This answer does not belong to a login started here (its state is unknown). Log in again."


def _error_answer(client: _Client) -> ResponseReturnValue:
    """An error answer: shown if its state is one this session is waiting for (that login attempt is then over),
    refused without showing a word of it otherwise."""
    state = request.args.get("state")
    framework = client.remote.oauth.framework
    if not state or framework.get_state_data(session, state) is None:
        return _error("This answer is refused", _UNKNOWN_STATE, 400, "mismatching_state")
    framework.clear_state_data(session, state)
    error, description = request.args["error"], request.args.get("error_description")
    if error == "access_denied":
        return render_template("app/denied.html", description=description)
    return _error("Login failed", description or "The authorization server refused.", 400, error)


@bp.get("/authorize")
def callback() -> ResponseReturnValue:
    client = _client()
    problem = _issuer_problem(client.remote.metadata(), request.args.get("iss"))
    if problem:
        return _error("This answer is refused", problem + " (RFC 9207 mix-up protection)", 400)
    if "error" in request.args:
        return _error_answer(client)
    try:
        # checks state, sends the code with the PKCE verifier and the client's credentials
        token = client.remote.oauth.authorize_access_token()
    except OAuthError as exc:
        if exc.error == "mismatching_state":
            return _error("This answer is refused", _UNKNOWN_STATE, 400, exc.error)
        return _error("Login failed", exc.description or "The authorization server refused.", 400, exc.error)
    # the ID token's claims, verified by Authlib (signature against the JWKS, iss, aud, exp, nonce)
    username = (token.get("userinfo") or {}).get("preferred_username")
    if not username:
        info = client.remote.introspect(token["access_token"])
        if not info.get("active") or not info.get("username"):
            return _error("Login failed", "The authorization server does not recognise the new token.", 502)
        username = info["username"]
    old = session.get("sid")
    client.jar.pop(old if isinstance(old, str) else None)
    session.clear()  # a new session for the new login
    session["sid"] = client.jar.add(dict(token))
    session["username"] = username
    return redirect("/protected", code=303)


def _lifetime(expires_at: Any) -> str:
    if not isinstance(expires_at, int | float):
        return "unknown"
    left = int(expires_at - time.time())
    if left <= 0:
        return "expired"
    minutes, seconds = divmod(left, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


@bp.get("/protected")
def protected() -> ResponseReturnValue:
    client = _client()
    current = _signed_in()
    if current is None:
        return render_template("app/protected.html", authenticated=False, ended=None)
    sid, token = current
    calls: list[ApiCall] = []
    try:
        with client.jar.session_lock(sid):  # one refresh per session at a time: a spent refresh token is theft
            for path, scope in client.config.api_calls:
                # read the token again each time: the first call, or a request before us, may have refreshed it
                calls.append(client.remote.call_api(path, scope, token=client.jar.get(sid) or token, refresh=True))
    except OAuthError as exc:  # the refresh was refused: this login is over
        client.jar.pop(sid)
        session.clear()
        return render_template("app/protected.html", authenticated=False, ended=exc.error or "refused")
    token = client.jar.get(sid) or token
    return render_template(
        "app/protected.html",
        authenticated=True,
        username=session.get("username"),
        scopes=str(token.get("scope", "")).split(),
        lifetime=_lifetime(token.get("expires_at")),
        refreshed=g.get("refreshed", False),
        calls=calls,
        rejected=any(call.status == 401 for call in calls),
    )


def _logged_out(
    config: ClientAppConfig, revoked: int | str | None, after: ApiCall | None, *, server_signed_out: bool = False
) -> str:
    return render_template(
        "app/logged_out.html",
        revoked=revoked,
        after=after,
        server_logout=config.issuer + "/logout",
        server=_where(config.issuer),
        server_signed_out=server_signed_out,
    )


#: the session key of what the logout did, kept for the page the server's sign-out comes back to
_LOGGED_OUT = "logged_out"


def _end_session_url(client: _Client, token: Token, state: str) -> str | None:
    """The server's end-session endpoint with the ID token as hint, or ``None`` if there is no way to use it."""
    endpoint = client.remote.metadata().get("end_session_endpoint")
    id_token = token.get("id_token")
    back = client.config.post_logout_redirect_uri
    if not (isinstance(endpoint, str) and isinstance(id_token, str) and back):
        return None
    return endpoint + "?" + urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": back, "state": state})


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> ResponseReturnValue:
    client = _client()
    if request.method == "GET":  # a link only asks
        if _signed_in() is None:
            return _logged_out(client.config, None, None)
        return render_template("app/logout.html", username=session.get("username"))
    refused = _csrf_refused()
    if refused is not None:
        return refused
    sid = session.get("sid")
    token = client.jar.pop(sid if isinstance(sid, str) else None)
    session.clear()
    status: int | str | None = None
    after: ApiCall | None = None
    if token is not None:
        try:
            status = client.remote.revoke(token)
        except requests.RequestException as exc:
            status = type(exc).__name__
        path, scope = client.config.api_calls[0]
        after = client.remote.call_api(path, scope, token=token, refresh=False)
        state = secrets.token_urlsafe(16)
        end_session = _end_session_url(client, token, state)
        if end_session is not None:
            # what /logged-out shows when the server sends the person back with this state
            session[_LOGGED_OUT] = {"state": state, "revoked": status, "after": dataclasses.asdict(after)}
            return redirect(end_session, code=303)
    return _logged_out(client.config, status, after)


@bp.get("/logged-out")
def logged_out() -> ResponseReturnValue:
    """Where the server's end-session endpoint sends people back, with the ``state`` the app gave it."""
    kept = session.pop(_LOGGED_OUT, None)
    state = request.args.get("state", "")
    if not isinstance(kept, dict) or not hmac.compare_digest(str(kept.get("state", "")).encode(), state.encode()):
        return _logged_out(_client().config, None, None)
    return _logged_out(_client().config, kept["revoked"], ApiCall(**kept["after"]), server_signed_out=True)
