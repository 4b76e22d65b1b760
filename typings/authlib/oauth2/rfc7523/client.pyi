from collections.abc import Callable
from typing import Any, ClassVar

from joserfc.jwk import Key, KeySet
from joserfc.jwt import Claims
from joserfc.registry import Header

from ..rfc6749 import ClientMixin
from ..rfc6749.requests import OAuth2Request

ASSERTION_TYPE: str

# client_secret_jwt and private_key_jwt client authentication on the server (RFC 7523 §2.2, §3), added with
# server.register_client_auth_method(JWTBearerClientAssertion.CLIENT_AUTH_METHOD, JWTBearerClientAssertion()).
class JWTBearerClientAssertion:
    CLIENT_ASSERTION_TYPE: ClassVar[str]
    # the name to register it under, which the client's check_endpoint_auth_method is asked about;
    # "client_assertion_jwt" unless a subclass names it (e.g. "private_key_jwt")
    CLIENT_AUTH_METHOD: ClassVar[str]
    # deprecated: override get_audiences instead
    token_url: str | None
    leeway: int
    def __init__(self, token_url: str | None = None, validate_jti: bool = True, leeway: int = 60) -> None: ...
    # the authentication method: the client whose assertion verified, or None without an assertion;
    # InvalidClientError for a bad one
    def __call__(
        self, query_client: Callable[[str], ClientMixin | None], request: OAuth2Request
    ) -> ClientMixin | None: ...
    def verify_claims(self, claims: Claims) -> None: ...
    # the verified claims
    def process_assertion_claims(self, assertion: str, resolve_key: Key | KeySet) -> Claims: ...
    def authenticate_client(self, client: ClientMixin) -> ClientMixin: ...
    # (header, claims), unverified
    def extract_assertion(self, assertion: str) -> tuple[Header, dict[str, Any]]: ...
    # hooks you implement
    # the accepted "aud" values, e.g. the token endpoint's URL
    def get_audiences(self) -> list[str]: ...
    # False when jti was seen before (a replay)
    def validate_jti(self, claims: Claims, jti: str) -> bool: ...
    # the client's secret (client_secret_jwt) or public key (private_key_jwt)
    def resolve_client_public_key(self, client: Any) -> Key | KeySet | dict[str, Any]: ...
