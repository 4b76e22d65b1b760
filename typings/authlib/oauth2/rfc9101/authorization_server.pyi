from typing import Any, ClassVar

from joserfc.jwk import Key, KeySet
from joserfc.jwt import JWTClaimsRegistry

from ..rfc6749 import AuthorizationServer
from ..rfc6749.requests import OAuth2Request

# An authorization server extension: server.register_extension(JWTAuthenticationRequest()) replaces the
# parameters of an authorization request that carries "request" or "request_uri" with the claims of that signed
# request object (RFC 9101).
class JWTAuthenticationRequest:
    claims_validator: ClassVar[JWTClaimsRegistry]
    support_request: bool
    support_request_uri: bool
    def __init__(self, support_request: bool = True, support_request_uri: bool = True) -> None: ...
    def __call__(self, authorization_server: AuthorizationServer) -> None: ...
    def get_request_object_signing_algorithms(self, client: Any) -> list[str]: ...
    # the hook: replaces request.payload
    def parse_authorization_request(
        self, authorization_server: AuthorizationServer, request: OAuth2Request
    ) -> None: ...
    # hooks you implement (or keep)
    # False unless overridden: request_uri is refused
    def validate_request_uri(self, request_uri: str, client: Any) -> bool: ...
    # the request object (a JWT) at request_uri
    def get_request_object(self, request_uri: str) -> str | None: ...
    # a joserfc key or key set, or a JWK or JWK set as a dict
    def resolve_client_public_key(self, client: Any) -> Key | KeySet | dict[str, Any]: ...
    def get_server_metadata(self) -> dict[str, Any]: ...
    def get_client_require_signed_request_object(self, client: Any) -> bool: ...
