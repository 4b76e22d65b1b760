from collections.abc import Iterable, MutableMapping
from typing import Any

# What a framework provides to the OAuth client apps: where the state of an authorization request is kept (the
# session, or a cache with only its expiry in the session) and how a refreshed token is announced.
class FrameworkIntegration:
    expires_in: int
    name: str
    # an object with get(key), set(key, value, expires_in) and delete(key), or None for the session only
    cache: Any
    def __init__(self, name: str, cache: Any = None) -> None: ...
    def get_state_data(self, session: MutableMapping[str, Any], state: str | None) -> Any: ...
    def set_state_data(self, session: MutableMapping[str, Any], state: str, data: Any) -> None: ...
    def clear_state_data(self, session: MutableMapping[str, Any], state: str | None) -> None: ...
    def update_token(
        self, token: dict[str, Any], refresh_token: str | None = None, access_token: str | None = None
    ) -> None: ...
    # the client settings the framework's configuration holds for this client name
    @staticmethod
    def load_config(oauth: Any, name: str, params: Iterable[str]) -> dict[str, Any]: ...
