from typing import Any, ClassVar

from .base import AuthorizationEndpointMixin, BaseGrant

class ImplicitGrant(BaseGrant, AuthorizationEndpointMixin):
    AUTHORIZATION_ENDPOINT: ClassVar[bool]
    GRANT_TYPE: ClassVar[str]
    def validate_authorization_request(self) -> str: ...
    def create_authorization_response(
        self, redirect_uri: str, grant_user: Any
    ) -> tuple[int, str, list[tuple[str, str]]]: ...
