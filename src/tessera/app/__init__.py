"""The composition root: :func:`create_app` builds the authorization server from its parts, once per process.

    settings -> ServerContext (store, client cache, rate limits, revocations)   tessera.server.context
             -> TesseraServer (Authlib) with the grants and endpoints         tessera.server.authorization
             -> Front: the machine routes, then the Flask pages               tessera.app.routes
             -> WSGI (tests, the demo) or RSGI (tessera serve)                tessera.server.wsgi / .rsgi

Nothing happens at import time; everything hangs off what :func:`build` returns.
"""

import dataclasses
import datetime
import logging
import os
import time
from pathlib import Path
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from tessera.app.routes import MACHINE, PAGES, advertised, endpoint_paths, page_path
from tessera.config import Settings
from tessera.errors import StoreError
from tessera.events import REDELIVER_FOR, RevocationPublisher, changes_stream
from tessera.ratelimit import RateLimits
from tessera.server.access import AccessLog
from tessera.server.audit import WRITER_THREAD, AuditTrail
from tessera.server.authorization import TesseraServer
from tessera.server.changes import Changes
from tessera.server.client_documents import ClientDocuments
from tessera.server.client_keys import JwksFetcher, PrivateKeyJWT
from tessera.server.clients import PRIVATE_KEY_JWT, ClientCache
from tessera.server.context import Clock, RevocationListener, Revocations, ServerContext
from tessera.server.device import DeviceAuthorizationEndpoint
from tessera.server.dpop import DPoP
from tessera.server.errors import JSON_NO_STORE, failure
from tessera.server.front import Front, MachineRoute, Runs
from tessera.server.grants import GRANT_TYPES, GRANTS
from tessera.server.handlers import Machine
from tessera.server.introspection import IntrospectionEndpoint
from tessera.server.keys import KeyEncryption, Keyring
from tessera.server.leaks import ReportKeys
from tessera.server.metadata import Metadata
from tessera.server.metrics import Metrics
from tessera.server.request import MAX_BODY, HttpRequest, Reply
from tessera.server.revocation import RevocationEndpoint
from tessera.server.rsgi import RsgiFront
from tessera.server.wsgi import WsgiFront
from tessera.store import Store, make_engine
from tessera.store.db import StatementCounter
from tessera.web.boundary import refuse_control_characters
from tessera.web.context import install
from tessera.web.security import CachedSerializerSessionInterface, add_page_headers

__all__ = ["Built", "build", "create_app", "new_metrics"]

_WEB = Path(__file__).resolve().parent.parent / "web"


@dataclasses.dataclass(frozen=True)
class Built:
    """One server, built: its Flask app (whose ``wsgi_app`` is the WSGI front) and its parts."""

    flask: Flask
    server: TesseraServer
    front: Front
    store: Store
    #: the SQL statement counter, with ``TESSERA_BENCH_COUNT_SQL=1`` (bench only)
    counter: StatementCounter | None = None

    def rsgi(self, *, threads: int) -> RsgiFront:
        """The same server for an RSGI HTTP server (``tessera serve``)."""
        return RsgiFront(self.front, threads=threads, body_timeout=self.server.context.settings.body_timeout)


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    on_revoke: list[RevocationListener] | None = None,
    clock: Clock = time.time,
    metrics: Metrics | None = None,
) -> Flask:
    """The authorization server as a WSGI app. ``store`` defaults to one on ``settings.database_url``;
    ``on_revoke`` are told of every revocation, besides the Redis publisher when ``TESSERA_REDIS_URL`` is set;
    ``clock`` says what time it is (tests move it); ``metrics`` counts (default: nothing is counted; see
    :func:`new_metrics`)."""
    return build(settings, store=store, on_revoke=on_revoke, clock=clock, metrics=metrics).flask


def new_metrics(registry: Any = None) -> Metrics:
    """Metrics for this server's endpoints and grants, at zero, registered on ``registry`` (a
    ``prometheus_client.CollectorRegistry``; ``None`` for multiprocess mode, where nothing is registered)."""
    return Metrics(endpoints=endpoint_paths(), grant_types=GRANT_TYPES, registry=registry)


def build(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    on_revoke: list[RevocationListener] | None = None,
    clock: Clock = time.time,
    metrics: Metrics | None = None,
    load_keys: bool = True,
) -> Built:
    """The server and its parts (see :func:`create_app`). With ``load_keys`` (the default), every published
    ID-token signing key is decrypted now, and one that cannot be stops the server here, at start. ``tessera
    serve`` has checked them once before its workers start and passes ``False``: a worker then reads its keys when
    it first signs an ID token or serves the JWKS, and one that never does never loads ``cryptography``."""
    settings = settings or Settings.from_env()
    settings.check_for_server()
    # a request's statements: the audit trail's rows, written in batches by its thread, belong to no request
    counter = StatementCounter(ignore_threads=[WRITER_THREAD]) if settings.count_sql else None
    store = store or Store(
        make_engine(
            settings.database_url,
            counter=counter,
            pool_size=settings.pool_size,
            prepared_statements=settings.prepared_statements,
        )
    )
    # Authlib logs whole token responses at DEBUG; never let a token reach a log
    logging.getLogger("authlib").setLevel(logging.INFO)

    listeners = list(on_revoke or [])
    publisher = None
    if settings.redis_url:
        publisher = RevocationPublisher(
            settings.redis_url,
            channel=settings.revocation_channel,
            changes=changes_stream(settings.redis_prefix),
            redeliver_for=REDELIVER_FOR,
        )
        listeners.append(publisher)
    audit = AuditTrail(store.audit if settings.audit == "on" else None, enabled=settings.audit != "off")
    rate_limits = RateLimits(settings)
    documents = None
    if settings.client_id_metadata:
        documents = ClientDocuments(
            settings, clients=store.clients, scopes=store.scopes, clock=clock, audit=audit, rate_limits=rate_limits
        )
    clients = ClientCache(store.clients.get, ttl=settings.client_cache_ttl, clock=clock, documents=documents)
    changes = Changes()
    changes.on("client", clients.forget)
    # a change made by this process: its own caches at once, the other processes through Redis
    store.listen(changes)
    if publisher is not None:
        store.listen(publisher.changed)  # kept and sent again while Redis is away: it never raises
        changes.follow(settings)
    metrics = metrics or Metrics.off()
    context = ServerContext(
        settings=settings,
        store=store,
        clients=clients,
        rate_limits=rate_limits,
        revocations=Revocations(store.tokens, listeners, metrics),
        changes=changes,
        leak_keys=ReportKeys.from_file(settings.leak_report_keys) if settings.leak_report_keys else None,
        dpop=DPoP.from_settings(settings),
        keys=Keyring(
            store.signing_keys, KeyEncryption.from_settings(settings), id_token_ttl=settings.id_token_ttl, clock=clock
        ),
        clock=clock,
        metrics=metrics,
        audit=audit,
    )
    if load_keys:
        try:
            context.keys.load()  # a key that cannot be decrypted stops the server here, at start
        except StoreError:
            pass  # the database is away: the keys are read at their first use, as everything else is
    server = TesseraServer(context)
    for grant, extensions in GRANTS:
        server.register_grant(grant, extensions)
    server.register_endpoint(IntrospectionEndpoint(server))
    server.register_endpoint(RevocationEndpoint(server))
    server.register_endpoint(
        DeviceAuthorizationEndpoint(server, verification_uri=settings.issuer + page_path("device"))
    )
    endpoints = advertised()
    # aud of a client assertion: the issuer, or the token endpoint (RFC 7523 §3, OpenID Connect Core §9)
    audiences = [settings.issuer, settings.issuer + endpoints["token_endpoint"]]
    fetch = JwksFetcher(production=settings.production)
    server.register_client_auth_method(
        PRIVATE_KEY_JWT, PrivateKeyJWT(audiences, fetch=fetch, replay=context.dpop.replay, clock=clock)
    )

    flask = _pages(settings, server)
    routes = list(MACHINE)
    if settings.registration == "off":  # no registration endpoint at all: a 404, and not in the metadata
        endpoints.pop("registration_endpoint")
        routes = [route for route in routes if route.advertised_as != "registration_endpoint"]
    if counter is not None:
        routes.append(_statement_count_route(counter))
    if context.leak_keys is None:  # no keys, no reports: nothing to send scanners to
        del endpoints["leak_report_endpoint"]
    metadata = Metadata(server, endpoints, refresh=settings.client_cache_ttl)
    pages: Any = flask.wsgi_app
    if settings.trusted_proxies:
        # request.remote_addr (counted by the sign-in rate limit) becomes the address the proxies saw
        n = settings.trusted_proxies
        pages = ProxyFix(pages, x_for=n, x_proto=n)
    front = Front(
        Machine(server, metadata),
        routes,
        pages,
        access=AccessLog(metrics=metrics),
        headers=_every_response(settings),
        background=[metrics, audit],
    )
    flask.wsgi_app = WsgiFront(front)  # type: ignore[method-assign]
    return Built(flask, server, front, store, counter)


def _every_response(settings: Settings) -> tuple[tuple[str, str], ...]:
    """What every response carries, machine route or page. In production over https: HSTS for a year, so a
    browser that has been here once never tries plain http (and a sign-in cookie never travels over it)."""
    if settings.production and settings.issuer.startswith("https://"):
        return (("Strict-Transport-Security", "max-age=31536000"),)
    return ()


def _pages(settings: Settings, server: TesseraServer) -> Flask:
    """The Flask app of the pages (:data:`tessera.app.routes.PAGES`) and their static files."""
    app = Flask(
        "tessera",
        template_folder=str(_WEB / "templates"),
        static_folder=str(_WEB / "static"),
        static_url_path="/static",
    )
    app.config.update(
        SECRET_KEY=str(settings.secret_key),
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_MEMORY_SIZE=MAX_BODY,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # production: __Host- makes the browser refuse the cookie unless it is Secure, for Path=/ and without a
        # Domain, so no other host (a sibling subdomain) and no plain-http page can set or shadow it
        SESSION_COOKIE_SECURE=settings.production or settings.issuer.startswith("https://"),
        SESSION_COOKIE_NAME="__Host-tessera_session" if settings.production else "tessera_session",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        # also the most a signed cookie is accepted for after it was last written (itsdangerous' max_age)
        PERMANENT_SESSION_LIFETIME=datetime.timedelta(seconds=settings.session_max_age),
        # the cookie is written when the session changes, not on every page: its expiry is fixed at sign-in
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    app.session_interface = CachedSerializerSessionInterface()
    install(app, server)
    app.before_request(refuse_control_characters)
    for page in PAGES:
        app.add_url_rule(page.path, page.name, page.view, methods=list(page.methods))
    app.after_request(_page_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


def _statement_count_route(counter: StatementCounter) -> MachineRoute:
    """Bench only (``TESSERA_BENCH_COUNT_SQL=1``): this worker's SQL statement count, which ``bench/`` reads
    before and after a batch of requests. The route does not exist otherwise."""

    def sql_count(machine: Machine, request: HttpRequest) -> Reply:
        return 200, {"statements": counter.count, "pid": os.getpid()}, []

    return MachineRoute("/_bench/sql-count", ("GET",), sql_count, Runs.LOOP)


def _page_headers(response: Response) -> Response:
    if response.mimetype == "text/html":
        add_page_headers(response)
    return response


def _page_error(title: str, message: str, status: int) -> tuple[str, int]:
    return render_template("errors/error.html", title=title, message=message, status=status), status


def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    if request.accept_mimetypes.best == "application/json" and not request.accept_mimetypes.accept_html:
        return jsonify(error=exc.name), status
    return _page_error(exc.name, exc.description or exc.name, status)


def _unexpected(exc: Exception) -> Any:
    if isinstance(exc, OAuth2Error):  # an Authlib error that escaped a page's view
        status, body, headers = exc()
        return body, status, [*JSON_NO_STORE, *headers]
    failed = failure(exc, request.method, request.path)
    title, message, status = failed.title, failed.message, failed.status
    return render_template("errors/error.html", title=title, message=message, status=status), status, failed.headers
