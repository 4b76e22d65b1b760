from typing import Any, ClassVar

from ..rfc6749 import TokenMixin
from ..rfc6750 import BearerTokenValidator
from .assertion import _Key

# The claims of a JWT access token from JWTBearerTokenGenerator, as a token.
class JWTBearerToken(TokenMixin, dict[str, Any]): ...

# Validates JWT access tokens locally: signature, exp, client_id, grant_type (and iss when given).
class JWTBearerTokenValidator(BearerTokenValidator):
    token_cls: ClassVar[type[JWTBearerToken]]
    leeway: int
    claims_options: dict[str, Any]
    def __init__(
        self,
        public_key: _Key,
        issuer: str | None = None,
        realm: str | None = None,
        leeway: int = 60,
        **extra_attributes: Any,
    ) -> None: ...
    # None for a token that does not verify
    def authenticate_token(self, token_string: str) -> JWTBearerToken | None: ...
