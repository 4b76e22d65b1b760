from typing import Any

from ..rfc6749 import TokenValidator
from ..rfc6749.requests import JsonRequest, OAuth2Request

class IntrospectTokenValidator(TokenValidator):
    # hook you implement: the introspection response (a dict with "active"), or None
    def introspect_token(self, token_string: str) -> dict[str, Any] | None: ...
    def authenticate_token(self, token_string: str) -> dict[str, Any] | None: ...
    def validate_token(self, token: Any, scopes: list[str] | None, request: OAuth2Request | JsonRequest) -> None: ...
