from typing import Any, ClassVar

from .assertion import _Key

# A token generator (register_token_generator) whose access tokens are JWTs (scope, grant_type, iat, exp,
# client_id, iss, sub) signed with secret_key; it never issues refresh tokens.
class JWTBearerTokenGenerator:
    DEFAULT_EXPIRES_IN: ClassVar[int]
    issuer: str | None
    alg: str
    def __init__(self, secret_key: _Key, issuer: str | None = None, alg: str = "RS256") -> None: ...
    @staticmethod
    def get_allowed_scope(client: Any, scope: str | None) -> str | None: ...
    # str(user.get_user_id())
    @staticmethod
    def get_sub_value(user: Any) -> str: ...
    def get_token_data(
        self, grant_type: str, client: Any, expires_in: int, user: Any = None, scope: str | None = None
    ) -> dict[str, Any]: ...
    def generate(
        self, grant_type: str, client: Any, user: Any = None, scope: str | None = None, expires_in: int | None = None
    ) -> dict[str, Any]: ...
    def __call__(
        self,
        grant_type: str,
        client: Any,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]: ...
