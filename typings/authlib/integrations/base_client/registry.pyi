from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from .framework_integration import FrameworkIntegration

__all__ = ["BaseOAuth"]

OAUTH_CLIENT_PARAMS: tuple[str, ...]

# The registry of OAuth client apps by name. Which class a client is depends on what it was registered with
# (client_cls, or request_token_url for OAuth 1), so clients are Any here; registered clients are also
# attributes of the registry.
class BaseOAuth:
    oauth1_client_cls: ClassVar[type[Any] | None]
    oauth2_client_cls: ClassVar[type[Any] | None]
    framework_integration_cls: ClassVar[type[FrameworkIntegration]]
    cache: Any
    # called with the client name, then as the client's own fetch_token / update_token
    fetch_token: Callable[..., Any] | None
    update_token: Callable[..., Any] | None
    def __init__(
        self,
        cache: Any = None,
        fetch_token: Callable[..., Any] | None = None,
        update_token: Callable[..., Any] | None = None,
    ) -> None: ...
    # None for a name that was never registered
    def create_client(self, name: str) -> Any: ...
    def register(self, name: str, overwrite: bool = False, **kwargs: Any) -> Any: ...
    def generate_client_kwargs(self, name: str, overwrite: bool, **kwargs: Any) -> dict[str, Any]: ...
    def load_config(self, name: str, params: Iterable[str]) -> dict[str, Any]: ...
    def __getattr__(self, key: str) -> Any: ...
