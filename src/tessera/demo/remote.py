"""What the demo app says to the authorization server and to the API, over HTTP only.

The flow itself is Authlib's Flask client, set up here: the authorization code with PKCE S256 and ``state``
(RFC 6749 §4.1, RFC 7636), as a confidential client (``client_secret_basic``), with the endpoints from the
server's metadata (RFC 8414). API calls go through it too, so an access token that expires within
``refresh_leeway`` seconds is first refreshed and the new pair handed to ``update_token``.

Introspection and revocation are plain form posts with the client's credentials: the app introspects only its
own tokens (any client may, RFC 7662), and revokes the refresh token at logout (RFC 7009), which makes Tessera
revoke every token of that grant.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import requests
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from flask import Flask

from tessera.config import Secret
from tessera.demo.token_jar import Token

__all__ = ["ApiCall", "ClientAppConfig", "Remote"]

_TIMEOUT = 10.0
_BODY_SHOWN = 2000


@dataclass(frozen=True)
class ClientAppConfig:
    """Where the app finds the server and the API, and who it is there."""

    issuer: str
    client_id: str
    client_secret: Secret
    redirect_uri: str
    api_base_url: str
    scope: str = "openid profile api restricted"
    #: the API's URI as a resource (RFC 8707), asked for at sign-in so that tokens are issued for that API alone
    resource: str | None = None
    #: the app's page the server's end-session endpoint sends people back to (registered for the client); ``None``:
    #: logging out of the app does not sign out at the server
    post_logout_redirect_uri: str | None = None
    #: the API endpoints the protected page calls, with the scope each needs
    api_calls: tuple[tuple[str, str], ...] = (("/api/data", "api"), ("/api/restricted", "restricted"))
    refresh_leeway: int = 10
    secret_key: Secret = field(default_factory=lambda: Secret(secrets.token_urlsafe(32)))


@dataclass(frozen=True)
class ApiCall:
    """One call to the API as the page shows it."""

    url: str
    scope: str
    status: int | None
    reason: str
    www_authenticate: str
    body: str

    @property
    def explanation(self) -> str:
        if self.status is None:
            return "No answer: is the API running?"
        if self.status == 200:
            return "The API accepted the token: it carries the scope this endpoint needs."
        if self.status == 401:
            return "The API rejected the token: the authorization server says it is no longer active."
        if self.status == 403:
            return f"The token is valid, but this endpoint needs the scope “{self.scope}”, which was not granted."
        return "An answer the demo does not expect."


class Remote:
    """The app's side of every conversation: Authlib's client for the flow and an HTTP session for the rest."""

    def __init__(self, app: Flask, config: ClientAppConfig, update_token: Callable[..., None]) -> None:
        self.config = config
        self.http = requests.Session()
        self.http.trust_env = False  # only ever 127.0.0.1: never through a proxy from the environment
        oauth = OAuth(app)
        #: Authlib's Flask client: ``authorize_redirect``, ``authorize_access_token``, ``get`` (refreshing first).
        #: ``register`` returns the client it creates, which with an app and neither ``client_cls`` nor
        #: ``request_token_url`` is always a FlaskOAuth2App.
        self.oauth: FlaskOAuth2App = oauth.register(
            "tessera",
            client_id=config.client_id,
            client_secret=str(config.client_secret),
            # OpenID Connect Discovery: the RFC 8414 document plus jwks_uri, which Authlib's client needs to verify
            # the ID token
            server_metadata_url=config.issuer + "/.well-known/openid-configuration",
            client_kwargs={
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_basic",
                "leeway": config.refresh_leeway,
                "default_timeout": _TIMEOUT,
                "trust_env": False,
            },
            update_token=update_token,
        )

    def metadata(self) -> dict[str, Any]:
        return self.oauth.load_server_metadata()

    def introspect(self, access_token: str) -> dict[str, Any]:
        response = self.http.post(
            self.metadata()["introspection_endpoint"],
            data={"token": access_token, "token_type_hint": "access_token"},
            auth=(self.config.client_id, str(self.config.client_secret)),
            timeout=_TIMEOUT,
        )
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def revoke(self, token: Token) -> int:
        """Revoke the refresh token (the whole grant with it) and return the server's HTTP status."""
        which = "refresh_token" if token.get("refresh_token") else "access_token"
        response = self.http.post(
            self.metadata()["revocation_endpoint"],
            data={"token": token[which], "token_type_hint": which},
            auth=(self.config.client_id, str(self.config.client_secret)),
            timeout=_TIMEOUT,
        )
        return response.status_code

    def call_api(self, path: str, scope: str, *, token: Token, refresh: bool) -> ApiCall:
        url = self.config.api_base_url + path
        try:
            if refresh:
                response = self.oauth.get(url, token=token)
            else:
                headers = {"Authorization": f"Bearer {token['access_token']}"}
                response = self.http.get(url, headers=headers, timeout=_TIMEOUT)
        except requests.RequestException as exc:
            return ApiCall(url, scope, None, type(exc).__name__, "", "")
        return ApiCall(
            url,
            scope,
            response.status_code,
            _phrase(response.status_code),
            response.headers.get("WWW-Authenticate", ""),
            response.text[:_BODY_SHOWN],
        )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
