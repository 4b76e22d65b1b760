from typing import Any, ClassVar

from .base import BaseGrant, TokenEndpointMixin

class ClientCredentialsGrant(BaseGrant, TokenEndpointMixin):
    GRANT_TYPE: ClassVar[str]
    # sets request.client
    def validate_token_request(self) -> None: ...
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]: ...
