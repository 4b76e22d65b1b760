"""The request map: every path the authorization server answers, what answers it, and where it runs.

Machine routes (:class:`~tessera.server.front.MachineRoute`) are answered by :class:`~tessera.server.front.Front`
before any web framework, by a handler of :mod:`tessera.server.handlers`; under ``tessera serve`` each runs on
the worker's event loop (``LOOP``: no waiting) or on a worker thread (``THREAD``: it writes, or may block).
Pages (:class:`Page`) are Flask views of :mod:`tessera.web`, always on a worker thread. A path in neither list
is Flask's 404.

The metadata document (RFC 8414) names the routes marked ``advertised_as``; nothing else lists their paths.
"""

import dataclasses
from collections.abc import Callable

from flask.typing import ResponseReturnValue

from tessera.server import handlers
from tessera.server.front import MachineRoute, Runs
from tessera.server.registration import REGISTER_PATH
from tessera.web import account, auth, consent, device, end_session

__all__ = ["MACHINE", "PAGES", "Page", "advertised", "endpoint_paths", "page_path"]

GET, POST, GET_POST = ("GET",), ("POST",), ("GET", "POST")
LOOP, THREAD = Runs.LOOP, Runs.THREAD


@dataclasses.dataclass(frozen=True)
class Page:
    """A Flask view; ``name`` is what ``url_for`` calls it."""

    path: str
    methods: tuple[str, ...]
    view: Callable[[], ResponseReturnValue]
    name: str
    advertised_as: str | None = None


MACHINE = (
    # path                                         methods  handler              runs    metadata
    MachineRoute("/oauth/token",                   POST,    handlers.token,      THREAD, "token_endpoint"),
    MachineRoute("/oauth/introspect",              POST,    handlers.introspect, LOOP,   "introspection_endpoint"),
    MachineRoute("/oauth/revoke",                  POST,    handlers.revoke,     THREAD, "revocation_endpoint"),
    MachineRoute("/oauth/leak-report",             POST,    handlers.leak_report, THREAD, "leak_report_endpoint"),
    MachineRoute("/oauth/device_authorization",    POST,    handlers.device_authorization, THREAD,
                 "device_authorization_endpoint"),
    MachineRoute("/oauth/userinfo",                GET_POST, handlers.userinfo, LOOP,   "userinfo_endpoint"),
    MachineRoute("/oauth/jwks",                    GET,     handlers.jwks,       THREAD, "jwks_uri"),
    # with ?client_id=: the registration client URI (RFC 7592); absent when TESSERA_REGISTRATION=off
    MachineRoute(REGISTER_PATH, ("POST", "GET", "PUT", "DELETE"), handlers.register, THREAD, "registration_endpoint"),
    MachineRoute("/.well-known/oauth-authorization-server", GET, handlers.metadata, LOOP),
    MachineRoute("/.well-known/openid-configuration", GET, handlers.openid_configuration, LOOP),
    MachineRoute("/openapi.json",                  GET,     handlers.openapi,    LOOP),
    MachineRoute("/healthz",                       GET,     handlers.healthz,    LOOP),
    MachineRoute("/readyz",                        GET,     handlers.readyz,     THREAD),
)  # fmt: skip

PAGES = (
    # path              methods   view                 url_for name   metadata
    Page("/authorize",  GET_POST, consent.authorize,   "authorize",   "authorization_endpoint"),
    Page("/login",      GET_POST, auth.login,          "login"),
    Page("/logout",     GET_POST, auth.logout,         "logout"),
    Page("/logged-out", GET,      auth.logged_out,     "logged_out"),
    # OpenID Connect RP-Initiated Logout 1.0: a client's request to sign the person out, confirmed on the page
    Page("/end-session", GET_POST, end_session.end_session, "end_session", "end_session_endpoint"),
    Page("/",           GET,      auth.home,           "home"),
    Page("/account",    GET_POST, account.account,     "account"),
    # the device grant's verification URI (RFC 8628 §3.3), in the device authorization response, not the metadata
    Page("/device",         GET_POST, device.enter,    "device"),
    Page("/device/consent", GET_POST, device.consent,  "device_consent"),
    Page("/device/done",    GET,      device.done,     "device_done"),
    # and /static/<path:filename>: Flask's own static view, for the pages' stylesheet
)  # fmt: skip


def page_path(name: str) -> str:
    """The path of the page ``url_for`` calls ``name``."""
    return next(page.path for page in PAGES if page.name == name)


def advertised() -> dict[str, str]:
    """Metadata names of the advertised endpoints, and their paths."""
    routes: list[MachineRoute | Page] = [*MACHINE, *PAGES]
    return {route.advertised_as: route.path for route in routes if route.advertised_as is not None}


def endpoint_paths() -> list[str]:
    """Every path of the request map: the ``endpoint`` label of the per-request metrics (any other path is
    counted as ``other``, so a scanner's guesses never make new series)."""
    return [route.path for route in MACHINE] + [page.path for page in PAGES]
