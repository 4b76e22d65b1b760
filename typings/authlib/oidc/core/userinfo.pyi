from typing import Any, ClassVar

from authlib.oauth2.rfc6749.authorization_server import AuthorizationServer
from authlib.oauth2.rfc6749.requests import OAuth2Request
from authlib.oauth2.rfc6749.resource_protector import ResourceProtector
from joserfc.jwk import Key, KeySet

from .claims import UserInfo

# The userinfo endpoint (OpenID Connect Core §5.3), registered with server.register_endpoint. The access token
# comes from resource_protector.acquire_token("openid"), which framework resource protectors (such as Flask's)
# have; its get_client() and get_user() give the client and the user. The answer is a JWT signed with the
# client's userinfo_signed_response_alg when its client_metadata has one, else JSON.
class UserInfoEndpoint:
    ENDPOINT_NAME: ClassVar[str]
    server: AuthorizationServer | None
    resource_protector: ResourceProtector | None
    def __init__(
        self, server: AuthorizationServer | None = None, resource_protector: ResourceProtector | None = None
    ) -> None: ...
    def create_endpoint_request(self, request: Any) -> OAuth2Request: ...
    # (200, the UserInfo or the signed JWT, headers)
    def __call__(self, request: OAuth2Request) -> tuple[int, UserInfo | str, list[tuple[str, str]]]: ...
    def get_supported_algorithms(self) -> list[str]: ...
    # hooks you implement
    # the claims scope gives access to, e.g. UserInfo(...).filter(scope)
    def generate_user_info(self, user: Any, scope: str) -> UserInfo: ...
    # the iss of a signed answer
    def get_issuer(self) -> str: ...
    # the key for a signed answer: a joserfc key or key set, or a JWK or JWK set as a dict; None unless overridden
    def resolve_private_key(self) -> Key | KeySet | dict[str, Any] | None: ...
