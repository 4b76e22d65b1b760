from collections.abc import Callable
from typing import Any, ClassVar

# Builds {"token_type": "Bearer", "access_token", "expires_in", "refresh_token", "scope"} from three callables:
# the token generators are called with client=, grant_type=, user=, scope= keywords; expires_generator is
# called as (client, grant_type), or is a fixed int.
class BearerTokenGenerator:
    DEFAULT_EXPIRES_IN: ClassVar[int]
    GRANT_TYPES_EXPIRES_IN: ClassVar[dict[str, int]]
    access_token_generator: Callable[..., str]
    refresh_token_generator: Callable[..., str] | None
    expires_generator: Callable[[Any, str], int] | int | None
    def __init__(
        self,
        access_token_generator: Callable[..., str],
        refresh_token_generator: Callable[..., str] | None = None,
        expires_generator: Callable[[Any, str], int] | int | None = None,
    ) -> None: ...
    # client.get_allowed_scope(scope), or InvalidScopeError when that is None
    @staticmethod
    def get_allowed_scope(client: Any, scope: str | None) -> str: ...
    def generate(
        self,
        grant_type: str,
        client: Any,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
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
