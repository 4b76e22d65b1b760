from typing import Any, ClassVar

from authlib.oauth2 import OAuth2Request
from joserfc.jwk import Key, KeySet

# How an ID token is signed and what it claims, per client. Each method falls back on a get_jwt_config() you
# define (deprecated); without one, override resolve_client_private_key and get_client_claims.
class LegacyMixin:
    # the ID token's lifetime when get_client_claims gives no "exp"
    DEFAULT_EXPIRES_IN: ClassVar[int]
    # a joserfc key or key set, or a JWK or JWK set as a dict
    def resolve_client_private_key(self, client: Any) -> Key | KeySet | dict[str, Any]: ...
    # the client's id_token_signed_response_alg if it has one, else "RS256"
    def get_client_algorithm(self, client: Any) -> str: ...
    # extra claims of the ID token, such as "iss" (and "aud", which defaults to the client id)
    def get_client_claims(self, client: Any) -> dict[str, Any]: ...
    def get_encode_header(self, client: Any) -> dict[str, Any]: ...
    # get_client_claims with iat, exp, auth_time and aud filled in
    def get_compatible_claims(self, request: OAuth2Request) -> dict[str, Any]: ...
