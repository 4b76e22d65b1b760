"""``TesseraServer``: Authlib's authorization server, wired to Tessera's context, token format and rules.

What Tessera adds on top of Authlib, and why:

* tokens are ``tsr_at_``/``tsr_rt_`` strings (:mod:`tessera.tokens`), their lifetime from settings (Authlib's
  default is ten days);
* a client that sends credentials two ways at once, or a ``Basic`` header that is not base64 of UTF-8, is
  refused before Authlib looks at it (RFC 6749 §2.3: one method per request);
* a client that sends credentials is judged by them alone: Authlib tries each allowed method in turn and
  would let a public client whose made-up secret failed pass as ``none``;
* per-client rate limits are counted once the client has authenticated;
* it remembers what was registered on it (grants, endpoints), so the metadata lists exactly that.

Grants and endpoints are registered by the composition root (:func:`tessera.app.create_app`), not here, so that
they can name this class as the type of their ``server`` without an import cycle.
"""

import base64
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import unquote

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskAuthorizationServer
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import BaseGrant
from authlib.oauth2.rfc9207 import IssuerParameter

from tessera.server.characters import has_control, is_visible_ascii
from tessera.server.clients import NONE, OAuthClient, is_document_url
from tessera.server.context import ServerContext
from tessera.server.errors import SlowDownError
from tessera.server.request import MachineRequest, Reply
from tessera.tokens import TokenKind, mint

__all__ = ["Endpoint", "TesseraServer"]

_G = TypeVar("_G", bound=BaseGrant)


class Endpoint(Protocol):
    """An Authlib endpoint (introspection, revocation), called with the request."""

    ENDPOINT_NAME: str
    CLIENT_AUTH_METHODS: list[str]

    def __call__(self, request: MachineRequest) -> Reply: ...


_MAX_CLIENT_ID = 64
_MAX_DOCUMENT_URL = 255


class _Issuer(IssuerParameter):
    def __init__(self, issuer: str) -> None:
        self._issuer = issuer

    def get_issuer(self) -> str:
        return self._issuer


class TesseraServer(_FlaskAuthorizationServer):
    """One per process; holds the :class:`~tessera.server.context.ServerContext`."""

    def __init__(self, context: ServerContext) -> None:
        super().__init__()
        self.context = context
        #: every grant registered, with its extensions, in order: the metadata is derived from these
        self.grants: list[tuple[type[BaseGrant], list[Callable[[Any], object]]]] = []
        #: endpoints by name (``introspection``, ``revocation``), each callable with a request
        self.endpoints: dict[str, Endpoint] = {}
        self.register_token_generator("default", self._generate_token)
        self.issuer_parameter = _Issuer(context.settings.issuer)
        self.register_extension(self.issuer_parameter)

    def register_grant(self, grant_cls: type[_G], extensions: Sequence[Callable[[_G], object]] | None = None) -> None:
        super().register_grant(grant_cls, extensions)
        self.grants.append((grant_cls, list(extensions or ())))

    def register_endpoint(self, endpoint: Any) -> None:
        instance = endpoint(self) if isinstance(endpoint, type) else endpoint
        super().register_endpoint(instance)
        self.endpoints[instance.ENDPOINT_NAME] = instance

    # storage hooks Authlib calls

    def query_client(self, client_id: str) -> OAuthClient | None:
        # client_id is VSCHAR (RFC 6749 Appendix A); anything else is no client, and never reaches the database; a
        # URL (a client ID metadata document, tessera.server.client_documents) may be longer than the ids we mint
        if not isinstance(client_id, str) or not client_id:
            return None
        if len(client_id) > (_MAX_DOCUMENT_URL if is_document_url(client_id) else _MAX_CLIENT_ID):
            return None
        if not is_visible_ascii(client_id):
            return None
        return self.context.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:  # pragma: no cover - grants store tokens
        raise RuntimeError("tokens are stored by the grants themselves")

    def _generate_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        granted = client.get_allowed_scope(scope)
        if granted is None:
            raise InvalidScopeError()
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": mint(TokenKind.ACCESS),
            "expires_in": expires_in or self.context.settings.access_token_ttl,
            "scope": granted,
        }
        if include_refresh_token:
            token["refresh_token"] = mint(TokenKind.REFRESH)
        return token

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> OAuthClient:
        _check_credentials_shape(request)
        if _sends_credentials(request):
            methods = [method for method in methods if method != NONE]
        # Authlib returns the client query_client gave it, and that only ever returns an OAuthClient
        client = cast(OAuthClient, super().authenticate_client(request, methods, endpoint))
        named = request.form.get("client_id")
        if named and named != client.client_id:  # HTTP Basic for one client, client_id of another in the body
            raise InvalidRequestError("The client_id in the body is not the client that authenticated.")
        # counted once the client is known to be who it says, so nobody can spend another client's budget
        verdict = self.context.rate_limits.client_request(endpoint, client.client_id)
        if not verdict.allowed:
            self.context.metrics.limited()
            raise SlowDownError(verdict.retry_after)
        return client

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        # Authlib's Flask signals are not used; skipping them saves work on every request
        return None


def _sends_credentials(request: Any) -> bool:
    """Whether the request claims more than a ``client_id``: any ``Authorization`` header (Basic, or a scheme
    this server does not know and so cannot accept) or a non-empty ``client_secret``. Such a request is judged
    by what it sent and never falls back to ``none`` (RFC 6749 §2.3: one method per request). An empty
    ``client_secret`` is no secret: RFC 6749 §2.3.1 lets a client omit the parameter when its secret is the empty
    string, so sending it empty says the same as not sending it."""
    return bool(
        request.headers.get("Authorization", "").strip()
        or request.form.get("client_secret")
        or request.form.get("client_assertion")
    )


def _check_credentials_shape(request: Any) -> None:
    """What Authlib does not check before it authenticates a client:

    * one authentication method per request (RFC 6749 §2.3): ``Basic`` and a ``client_secret`` in the body are
      ``invalid_request`` (credentials in the URL are refused before this, for every machine endpoint);
    * a ``Basic`` header that is not base64 of UTF-8 is ``invalid_client`` with a 401 (RFC 6749 §2.3.1,
      RFC 7617 §2): Authlib would decode it unguarded and fail with a server error;
    * so are Basic credentials holding a control character, as sent or once form-decoded as Authlib decodes
      them (:mod:`tessera.server.characters`).
    """
    if "client_assertion" in request.form and (
        "client_secret" in request.form or request.headers.get("Authorization", "").strip()
    ):
        raise InvalidRequestError("Use one client authentication method per request.")
    parts = request.headers.get("Authorization", "").split(None, 1)
    if not parts or parts[0].lower() != "basic":
        return
    if "client_secret" in request.form:
        raise InvalidRequestError("Use one client authentication method per request.")
    try:
        if len(parts) != 2:
            raise ValueError("no credentials after 'Basic'")
        credentials = base64.b64decode(parts[1], validate=True).decode("utf-8")
        # the id and the secret as sent and form-decoded (a percent escape never spans the ':' between them)
        if has_control(credentials) or has_control(unquote(credentials)):
            raise ValueError("a control character in the credentials")
    except ValueError as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise InvalidClientError(
            status_code=401, description="The Authorization header does not hold valid Basic credentials."
        ) from exc
