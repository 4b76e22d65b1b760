"""``create_app(settings)``: the authorization server as one Flask app.

Nothing happens at import time; everything hangs off the app returned here.
"""

import logging
import os
import time
from pathlib import Path
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from tessera.config import Settings
from tessera.errors import StoreError, StoreUnavailable
from tessera.events import RevocationPublisher
from tessera.server.authorization import AuthorizationServer, RevocationListener
from tessera.server.machine import DATABASE_AWAY, MAX_BODY, MachineEndpoints, log_request
from tessera.server.routes import ENDPOINT_PATHS
from tessera.server.routes import bp as oauth_bp
from tessera.store import Store, make_engine
from tessera.store.db import StatementCounter
from tessera.web.auth import bp as auth_bp
from tessera.web.consent import bp as consent_bp
from tessera.web.security import CachedSerializerSessionInterface, add_page_headers

__all__ = ["create_app"]

_JSON_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_WEB = Path(__file__).resolve().parent.parent / "web"


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    on_revoke: list[RevocationListener] | None = None,
) -> Flask:
    """Build the authorization server. ``store`` defaults to one on ``settings.database_url``."""
    settings = settings or Settings.from_env()
    counter = StatementCounter() if settings.count_sql else None
    store = store or Store(make_engine(settings.database_url, counter=counter))
    # Authlib logs whole token responses at DEBUG; never let a token reach a log
    logging.getLogger("authlib").setLevel(logging.INFO)

    app = Flask("tessera", template_folder=str(_WEB / "templates"), static_folder=None)
    app.config.update(
        SECRET_KEY=str(settings.secret_key),
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_MEMORY_SIZE=MAX_BODY,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.issuer.startswith("https://"),
        SESSION_COOKIE_NAME="tessera_session",
    )
    app.session_interface = CachedSerializerSessionInterface()
    listeners = list(on_revoke or [])
    if settings.redis_url:
        listeners.append(RevocationPublisher(settings.redis_url, channel=settings.revocation_channel))
    server = AuthorizationServer(settings, store, listeners)
    app.extensions["tessera.server"] = server
    app.extensions["tessera.rate_limits"] = server.rate_limits
    app.extensions["tessera.sql_counter"] = counter

    app.register_blueprint(oauth_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(consent_bp)
    app.register_blueprint(
        Blueprint("static_pages", __name__, static_folder=str(_WEB / "static"), static_url_path="/static")
    )

    if counter is not None:
        _expose_counter(app, counter)

    app.before_request(_before)
    app.after_request(_after)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StoreError, _store_error)
    app.register_error_handler(Exception, _unexpected)
    # the token, introspection and revocation endpoints never reach Flask: see tessera.server.machine
    app.wsgi_app = MachineEndpoints(server, ENDPOINT_PATHS, app.wsgi_app)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        # request.remote_addr (counted by the sign-in rate limit) becomes the address the proxies saw
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    return app


def _expose_counter(app: Flask, counter: StatementCounter) -> None:
    """Bench only (``TESSERA_BENCH_COUNT_SQL=1``): this worker's SQL statement count, which ``bench/`` reads
    before and after a batch of requests. The route does not exist otherwise."""

    def sql_count() -> Response:
        return jsonify(statements=counter.count, pid=os.getpid())

    app.add_url_rule("/_bench/sql-count", "bench_sql_count", sql_count)


def _oauth_json(
    error: str | None, description: str | None, status: int, headers: dict[str, str] | None = None
) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers.update(_JSON_NO_STORE)
    if headers:
        response.headers.update(headers)
    return response


def _before() -> None:
    g.started = time.perf_counter()


def _after(response: Response) -> Response:
    if response.mimetype == "text/html":
        add_page_headers(response)
    log_request(request.method, request.path, response.status_code, g.get("started", time.perf_counter()), None)
    return response


def _page_error(title: str, message: str, status: int) -> tuple[str, int]:
    return render_template("errors/error.html", title=title, message=message, status=status), status


def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    if request.accept_mimetypes.best == "application/json" and not request.accept_mimetypes.accept_html:
        return jsonify(error=exc.name), status
    return _page_error(exc.name, exc.description or exc.name, status)


def _store_error(exc: StoreError) -> Any:
    logging.getLogger("tessera").warning("storage error on %s %s: %s", request.method, request.path, exc)
    if isinstance(exc, StoreUnavailable):
        if request.path.startswith("/.well-known"):
            return _oauth_json("temporarily_unavailable", DATABASE_AWAY, 503, {"Retry-After": "1"})
        return _page_error("Temporarily unavailable", "Please try again in a moment.", 503)
    return _page_error("Server error", "The server is not set up correctly.", 500)


def _unexpected(exc: Exception) -> Any:
    if isinstance(exc, OAuth2Error):  # an Authlib error that escaped a page's view
        return _oauth_json(exc.error, exc.description or exc.error, exc.status_code or 400)
    logging.getLogger("tessera").exception("unexpected error on %s %s", request.method, request.path)
    return _page_error("Server error", "Something went wrong on our side.", 500)
