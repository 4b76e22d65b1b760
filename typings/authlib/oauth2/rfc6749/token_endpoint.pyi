from typing import Any, ClassVar

from .endpoint import Endpoint
from .models import ClientMixin
from .requests import OAuth2Request

class TokenEndpoint(Endpoint):
    SUPPORTED_TOKEN_TYPES: ClassVar[tuple[str, ...]]
    CLIENT_AUTH_METHODS: ClassVar[list[str]]
    # authenticates with CLIENT_AUTH_METHODS and sets request.client
    def authenticate_endpoint_client(self, request: OAuth2Request) -> ClientMixin: ...
    # the token object your hooks return (Authlib only hands it from one of your hooks to another)
    def authenticate_token(self, request: OAuth2Request, client: Any) -> Any: ...
