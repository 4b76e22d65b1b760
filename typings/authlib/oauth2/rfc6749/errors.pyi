from authlib.oauth2.base import OAuth2Error

__all__ = [
    "OAuth2Error",
    "InsecureTransportError",
    "InvalidRequestError",
    "InvalidClientError",
    "UnauthorizedClientError",
    "InvalidGrantError",
    "UnsupportedResponseTypeError",
    "UnsupportedGrantTypeError",
    "InvalidScopeError",
    "AccessDeniedError",
    "MissingAuthorizationError",
    "UnsupportedTokenTypeError",
    "MissingCodeException",
    "MissingTokenException",
    "MissingTokenTypeException",
    "MismatchingStateException",
]

class InsecureTransportError(OAuth2Error):
    error: str
    @classmethod
    def check(cls, uri: str) -> None: ...

class InvalidRequestError(OAuth2Error):
    error: str

class InvalidClientError(OAuth2Error):
    # with status_code 401, get_headers() adds a Basic WWW-Authenticate challenge
    error: str

class InvalidGrantError(OAuth2Error):
    error: str

class UnauthorizedClientError(OAuth2Error):
    error: str

class UnsupportedResponseTypeError(OAuth2Error):
    error: str
    response_type: str | None
    def __init__(
        self,
        response_type: str | None,
        description: str | None = None,
        uri: str | None = None,
        status_code: int | None = None,
        state: str | None = None,
        redirect_uri: str | None = None,
        redirect_fragment: bool = False,
        error: str | None = None,
    ) -> None: ...

class UnsupportedGrantTypeError(OAuth2Error):
    error: str
    grant_type: str | None
    def __init__(self, grant_type: str | None) -> None: ...

class InvalidScopeError(OAuth2Error):
    error: str

class AccessDeniedError(OAuth2Error):
    error: str

class ForbiddenError(OAuth2Error):
    auth_type: str | None
    realm: str | None
    def __init__(self, auth_type: str | None = None, realm: str | None = None) -> None: ...

class MissingAuthorizationError(ForbiddenError):
    error: str

# 401 with a WWW-Authenticate challenge: a resource-server error, not the token-endpoint one of RFC 7009
class UnsupportedTokenTypeError(ForbiddenError):
    error: str

class MissingCodeException(OAuth2Error):
    error: str

class MissingTokenException(OAuth2Error):
    error: str

class MissingTokenTypeException(OAuth2Error):
    error: str

class MismatchingStateException(OAuth2Error):
    error: str
