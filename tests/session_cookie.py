"""What a test can read from a browser's session cookie: the session secret the server's record is kept under
(by its digest)."""

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient

#: the cookie's name in development (in production it is ``__Host-tessera_session``)
COOKIE = "tessera_session"


def cookie_value(client: FlaskClient, name: str = COOKIE) -> str:
    cookie = client.get_cookie(name)
    assert cookie is not None, "no session cookie"
    return cookie.value


def session_secret(client: FlaskClient, name: str = COOKIE) -> str:
    """The session secret inside ``client``'s signed cookie."""
    from tessera.web.security import SESSION_SECRET  # imported here: the tests that use it then fail, not error

    app: Flask = client.application
    interface = app.session_interface
    assert isinstance(interface, SecureCookieSessionInterface)
    serializer = interface.get_signing_serializer(app)
    assert serializer is not None
    secret = serializer.loads(cookie_value(client, name))[SESSION_SECRET]
    assert isinstance(secret, str)
    return secret
