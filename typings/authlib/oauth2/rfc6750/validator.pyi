from typing import Any

from ..rfc6749 import TokenValidator
from ..rfc6749.requests import JsonRequest, OAuth2Request

class BearerTokenValidator(TokenValidator):
    # your token object, or None; validate_token calls is_expired(), is_revoked() and get_scope() on it (TokenMixin)
    def authenticate_token(self, token_string: str) -> Any: ...
    def validate_token(self, token: Any, scopes: list[str] | None, request: OAuth2Request | JsonRequest) -> None: ...
