from collections.abc import Callable
from typing import Any, ClassVar

from .framework_integration import FrameworkIntegration

# The synchronous OAuth client apps. Requests go through an HTTP session of client_cls (a requests session in the
# Flask and Django integrations), so what request() returns depends on it.

class BaseApp:
    client_cls: ClassVar[type[Any] | None]
    OAUTH_APP_CONFIG: ClassVar[dict[str, Any] | None]
    def request(self, method: str, url: str, token: dict[str, Any] | None = None, **kwargs: Any) -> Any: ...
    def get(self, url: str, **kwargs: Any) -> Any: ...
    def post(self, url: str, **kwargs: Any) -> Any: ...
    def patch(self, url: str, **kwargs: Any) -> Any: ...
    def put(self, url: str, **kwargs: Any) -> Any: ...
    def delete(self, url: str, **kwargs: Any) -> Any: ...

class _RequestMixin: ...

class OAuth1Base:
    client_cls: ClassVar[type[Any] | None]
    framework: FrameworkIntegration
    name: str | None
    client_id: str | None
    client_secret: str | None
    request_token_url: str | None
    request_token_params: dict[str, Any] | None
    access_token_url: str | None
    access_token_params: dict[str, Any] | None
    authorize_url: str | None
    authorize_params: dict[str, Any] | None
    api_base_url: str | None
    client_kwargs: dict[str, Any]
    def __init__(
        self,
        framework: FrameworkIntegration,
        name: str | None = None,
        fetch_token: Callable[..., Any] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        request_token_url: str | None = None,
        request_token_params: dict[str, Any] | None = None,
        access_token_url: str | None = None,
        access_token_params: dict[str, Any] | None = None,
        authorize_url: str | None = None,
        authorize_params: dict[str, Any] | None = None,
        api_base_url: str | None = None,
        client_kwargs: dict[str, Any] | None = None,
        user_agent: str | None = None,
        **kwargs: Any,
    ) -> None: ...

class OAuth1Mixin(_RequestMixin, OAuth1Base):
    def request(self, method: str, url: str, token: dict[str, Any] | None = None, **kwargs: Any) -> Any: ...
    # {"url": ..., "request_token": ..., "state": ...}
    def create_authorization_url(self, redirect_uri: str | None = None, **kwargs: Any) -> dict[str, Any]: ...
    def fetch_access_token(self, request_token: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]: ...

class OAuth2Base:
    client_cls: ClassVar[type[Any] | None]
    framework: FrameworkIntegration
    name: str | None
    client_id: str | None
    client_secret: str | None
    access_token_url: str | None
    access_token_params: dict[str, Any] | None
    authorize_url: str | None
    authorize_params: dict[str, Any] | None
    api_base_url: str | None
    client_kwargs: dict[str, Any]
    compliance_fix: Callable[[Any], object] | None
    client_auth_methods: list[Any] | None
    # the keyword arguments not named here, then what was loaded from server_metadata_url
    server_metadata: dict[str, Any]
    def __init__(
        self,
        framework: FrameworkIntegration,
        name: str | None = None,
        fetch_token: Callable[..., Any] | None = None,
        update_token: Callable[..., Any] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        access_token_url: str | None = None,
        access_token_params: dict[str, Any] | None = None,
        authorize_url: str | None = None,
        authorize_params: dict[str, Any] | None = None,
        api_base_url: str | None = None,
        client_kwargs: dict[str, Any] | None = None,
        server_metadata_url: str | None = None,
        compliance_fix: Callable[[Any], object] | None = None,
        client_auth_methods: list[Any] | None = None,
        user_agent: str | None = None,
        **kwargs: Any,
    ) -> None: ...

class OAuth2Mixin(_RequestMixin, OAuth2Base):
    def request(self, method: str, url: str, token: dict[str, Any] | None = None, **kwargs: Any) -> Any: ...
    # fetched from server_metadata_url once, then kept in server_metadata
    def load_server_metadata(self) -> dict[str, Any]: ...
    # {"url": ..., "state": ...}, with "code_verifier" for PKCE and "nonce" for an "openid" scope
    def create_authorization_url(self, redirect_uri: str | None = None, **kwargs: Any) -> dict[str, Any]: ...
    # the token response
    def fetch_access_token(self, redirect_uri: str | None = None, **kwargs: Any) -> dict[str, Any]: ...
