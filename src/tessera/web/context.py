"""The one way pages reach the server: :func:`current_server`, typed, set up by :func:`install`.

server = current_server()
server.context.store.users.by_id(uid)        # the server's context (tessera.server.context)
server.get_consent_grant(end_user=user)       # Authlib, for /authorize
"""

from flask import Flask, current_app

from tessera.server.authorization import TesseraServer

__all__ = ["current_server", "install", "server_of"]

_KEY = "tessera.server"


def install(app: Flask, server: TesseraServer) -> None:
    app.extensions[_KEY] = server


def server_of(app: Flask) -> TesseraServer:
    """The server installed on ``app``."""
    server = app.extensions[_KEY]
    if not isinstance(server, TesseraServer):  # pragma: no cover - install() is the only writer
        raise TypeError("the app's server was not installed with tessera.web.context.install")
    return server


def current_server() -> TesseraServer:
    """The server of the app handling the current request."""
    return server_of(current_app)
