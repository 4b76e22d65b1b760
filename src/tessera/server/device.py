"""The device authorization endpoint, RFC 8628 §3.1 and §3.2, on Authlib's, and the user code's rules.

A device (a command-line tool, a TV) asks here for a device code and a user code. The device code is an opaque
``tsr_dc_`` token, stored as its digest like every other; the device polls the token endpoint with it
(:class:`~tessera.server.grants.DeviceCodeGrant`). The user code is what a person types on the verification page:
eight letters from the twenty consonants of RFC 8628 §6.1's example (no vowels, so no words; no look-alikes of
digits), shown as ``BCDF-GHJK``, entered in any case, with or without the dash or spaces. Its digest is stored,
unique, so the page finds its device authorization in one read. 20^8 is about 2.6 * 10^10 codes: what guessing
one costs is in ``docs/security.md``, and the page's rate limits hold it there
(:meth:`tessera.ratelimit.RateLimits.user_code_attempt`).

The client must be registered for the device grant (``unauthorized_client`` otherwise); the scope asked for is
narrowed to the client's, as at the authorization endpoint (``invalid_scope`` when nothing asked for is allowed).
"""

from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidScopeError, UnauthorizedClientError
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint as _DeviceAuthorizationEndpoint
from authlib.oauth2.rfc8628.endpoint import create_string_user_code

from tessera.errors import AlreadyExists, NotFound
from tessera.server.authorization import TesseraServer
from tessera.server.clients import ANY_METHOD, OAuthClient
from tessera.server.grants import DEVICE_POLL_INTERVAL
from tessera.store import DeviceRecord
from tessera.tokens import TokenKind, digest, mint, random_id

__all__ = ["USER_CODE_ALPHABET", "DeviceAuthorizationEndpoint", "normal_user_code", "user_code_digest"]

#: the letters of a user code (RFC 8628 §6.1): consonants only, none that reads as a digit
USER_CODE_ALPHABET = frozenset("BCDFGHJKLMNPQRSTVWXZ")
_USER_CODE_LENGTH = 8
#: how many user codes are drawn before giving up, should each be taken (with 2.6 * 10^10 codes, never)
_DRAWS = 5


def normal_user_code(typed: str) -> str | None:
    """The user code ``typed`` stands for, as eight capital letters; ``None`` if it cannot be one. Case, dashes
    and spaces are ignored (``bcdf-ghjk``, ``BCDF GHJK``)."""
    letters = "".join(c for c in typed.upper() if c not in "- \t")
    if len(letters) != _USER_CODE_LENGTH or not USER_CODE_ALPHABET.issuperset(letters):
        return None
    return letters


def user_code_digest(normal: str) -> str:
    """What storage keeps of a user code in its normal form (:func:`normal_user_code`)."""
    return digest(normal)


class DeviceAuthorizationEndpoint(_DeviceAuthorizationEndpoint):
    CLIENT_AUTH_METHODS = list(ANY_METHOD)
    INTERVAL = DEVICE_POLL_INTERVAL
    #: RFC 8414 defines ``*_endpoint_auth_methods_supported`` for other endpoints, not this one
    AUTH_METHODS_IN_METADATA = False

    server: TesseraServer

    def __init__(self, server: TesseraServer, *, verification_uri: str) -> None:
        super().__init__(server)
        self.EXPIRES_IN = server.context.settings.device_code_ttl
        self._verification_uri = verification_uri

    def authenticate_client(self, request: Any) -> OAuthClient:
        # the server's query_client only ever returns an OAuthClient
        client: OAuthClient = super().authenticate_client(request)  # type: ignore[assignment]
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            raise UnauthorizedClientError("This client is not registered for the device grant.")
        return client

    def generate_device_code(self) -> str:
        return mint(TokenKind.DEVICE)

    def get_verification_uri(self) -> str:
        return self._verification_uri

    def save_device_credential(self, client_id: str, scope: str | None, data: dict[str, Any]) -> None:
        context = self.server.context
        client = context.clients.get(client_id)
        granted = None if client is None else client.get_allowed_scope(scope)
        if client is None:  # pragma: no cover - it authenticated a moment ago
            raise InvalidClientError(status_code=401, description="The client does not exist on this server.")
        if granted is None:
            raise InvalidScopeError("None of the requested scopes is allowed for this client.")
        now = context.now()
        for _ in range(_DRAWS):
            normal = normal_user_code(data["user_code"])
            assert normal is not None  # Authlib draws from the same alphabet, in the same shape
            record = DeviceRecord(
                digest=digest(data["device_code"]),
                user_code_digest=user_code_digest(normal),
                client_id=client_id,
                scope=granted,
                grant_id=random_id(),
                created_at=now,
                expires_at=now + self.EXPIRES_IN,
            )
            try:
                context.store.devices.create(record)
            except AlreadyExists:
                # another live code has these letters: draw again, and say the new one
                data["user_code"] = create_string_user_code()
                data["verification_uri_complete"] = f"{self._verification_uri}?user_code={data['user_code']}"
                continue
            except NotFound:
                context.clients.forget(client_id)
                raise InvalidClientError(
                    status_code=401, description="The client does not exist on this server."
                ) from None
            return
        raise RuntimeError(f"no free user code after {_DRAWS} draws")
