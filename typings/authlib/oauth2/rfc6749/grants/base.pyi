from typing import Any, ClassVar

from ..authorization_server import AuthorizationServer
from ..hooks import Hookable
from ..models import ClientMixin
from ..requests import OAuth2Request

# Users, clients, codes and tokens below are your own objects: Authlib takes them from one of your hooks and hands
# them to another, so they are Any. Clients it authenticates itself come from query_client, hence ClientMixin.

class BaseGrant(Hookable):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]]
    GRANT_TYPE: ClassVar[str | None]
    TOKEN_RESPONSE_HEADER: ClassVar[list[tuple[str, str]]]
    # set by OpenID Connect's prompt handling ("login", "consent", ...)
    prompt: str | None
    redirect_uri: str | None
    request: OAuth2Request
    server: AuthorizationServer
    def __init__(self, request: OAuth2Request, server: AuthorizationServer) -> None: ...
    @property
    def client(self) -> Any: ...
    # server.generate_token for request.client, grant_type defaulting to GRANT_TYPE
    def generate_token(
        self,
        user: Any = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]: ...
    def authenticate_token_endpoint_client(self) -> ClientMixin: ...
    def save_token(self, token: dict[str, Any]) -> None: ...
    def validate_requested_scope(self) -> None: ...

class TokenEndpointMixin:
    TOKEN_ENDPOINT_HTTP_METHODS: ClassVar[list[str]]
    GRANT_TYPE: ClassVar[str | None]
    @classmethod
    def check_token_endpoint(cls, request: OAuth2Request) -> bool: ...
    def validate_token_request(self) -> None: ...
    # (200, the token, TOKEN_RESPONSE_HEADER) in every grant Authlib has
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]: ...

class AuthorizationEndpointMixin:
    RESPONSE_TYPES: ClassVar[set[str]]
    ERROR_RESPONSE_FRAGMENT: ClassVar[bool]
    @classmethod
    def check_authorization_endpoint(cls, request: OAuth2Request) -> bool: ...
    # the redirect URI to use: the requested one if the client has it registered, else its default
    @staticmethod
    def validate_authorization_redirect_uri(request: OAuth2Request, client: Any) -> str: ...
    @staticmethod
    def validate_no_multiple_request_parameter(request: OAuth2Request) -> None: ...
    # validate_authorization_request, then keeps its redirect URI in self.redirect_uri
    def validate_consent_request(self) -> str: ...
    def validate_authorization_request(self) -> str: ...
    # (302, "", [("Location", ...)]), or (200, an HTML page, headers) for OpenID Connect's form_post
    def create_authorization_response(
        self, redirect_uri: str, grant_user: Any
    ) -> tuple[int, str, list[tuple[str, str]]]: ...
