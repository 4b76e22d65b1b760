from typing import Any, ClassVar

from .base import BaseGrant, TokenEndpointMixin

class ResourceOwnerPasswordCredentialsGrant(BaseGrant, TokenEndpointMixin):
    GRANT_TYPE: ClassVar[str]
    # sets request.client and request.user
    def validate_token_request(self) -> None: ...
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]: ...
    # hook you implement: the user, or None
    def authenticate_user(self, username: str, password: str) -> Any: ...
