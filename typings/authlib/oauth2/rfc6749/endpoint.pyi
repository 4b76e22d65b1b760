from dataclasses import dataclass
from typing import Any

from .authorization_server import AuthorizationServer
from .requests import OAuth2Request

@dataclass
class EndpointRequest:
    request: OAuth2Request
    client: Any = None

class Endpoint:
    ENDPOINT_NAME: str | None
    # None until the endpoint is registered with a server (register_endpoint sets it)
    server: AuthorizationServer | None
    def __init__(self, server: AuthorizationServer | None = None) -> None: ...
    def create_endpoint_request(self, request: Any) -> OAuth2Request: ...
    def validate_request(self, request: OAuth2Request) -> EndpointRequest: ...
    # (status, body, headers) for the server's handle_response, or None for no response
    def create_response(self, validated_request: EndpointRequest) -> tuple[int, Any, list[tuple[str, str]]] | None: ...
    def create_endpoint_response(self, request: OAuth2Request) -> tuple[int, Any, list[tuple[str, str]]] | None: ...
    def __call__(self, request: OAuth2Request) -> tuple[int, Any, list[tuple[str, str]]] | None: ...
