from typing import Any

from ..base import OAuth2Error

__all__ = ["InvalidTokenError", "InsufficientScopeError"]

# 401 with a Bearer WWW-Authenticate challenge naming realm and extra_attributes
class InvalidTokenError(OAuth2Error):
    error: str
    realm: str | None
    extra_attributes: dict[str, Any]
    def __init__(
        self,
        description: str | None = None,
        uri: str | None = None,
        status_code: int | None = None,
        state: str | None = None,
        realm: str | None = None,
        extra_attributes: dict[str, Any] | None = None,
    ) -> None: ...

class InsufficientScopeError(OAuth2Error):
    error: str
