"""The paths of the endpoints machines call, and the Flask views among them: metadata, the OpenAPI document
that describes the endpoints, and the health checks a load balancer polls. The token, introspection and
revocation endpoints are served before Flask, by :mod:`tessera.server.machine`."""

import functools
import json
from importlib import resources
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from tessera.errors import StoreError
from tessera.server.authorization import AuthorizationServer
from tessera.server.metadata import server_metadata

__all__ = ["ENDPOINT_PATHS", "bp"]

ENDPOINT_PATHS = {
    "authorization": "/authorize",
    "token": "/oauth/token",
    "introspection": "/oauth/introspect",
    "revocation": "/oauth/revoke",
}

bp = Blueprint("oauth", __name__)


def _server() -> AuthorizationServer:
    return current_app.extensions["tessera.server"]  # type: ignore[no-any-return]


@bp.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    server = _server()
    scopes = {s for client in server.store.list_clients() for s in client.scope.split()}
    response = jsonify(server_metadata(server.settings.issuer, scopes, ENDPOINT_PATHS))
    response.cache_control.max_age = 300
    response.cache_control.public = True
    return response


@functools.cache
def _openapi() -> dict[str, Any]:
    return json.loads(resources.files("tessera.server").joinpath("openapi.json").read_text("utf-8"))  # type: ignore[no-any-return]


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of the machine endpoints, with this server as its server URL."""
    response = jsonify({**_openapi(), "servers": [{"url": _server().settings.issuer}]})
    response.cache_control.max_age = 300
    response.cache_control.public = True
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    try:
        _server().store.ping()
    except StoreError:
        return jsonify(status="unavailable", detail="database unreachable"), 503
    return jsonify(status="ok"), 200
