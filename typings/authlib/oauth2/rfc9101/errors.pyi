from ..base import OAuth2Error

__all__ = [
    "InvalidRequestUriError",
    "InvalidRequestObjectError",
    "RequestNotSupportedError",
    "RequestUriNotSupportedError",
]

class InvalidRequestUriError(OAuth2Error):
    error: str

class InvalidRequestObjectError(OAuth2Error):
    error: str

class RequestNotSupportedError(OAuth2Error):
    error: str

class RequestUriNotSupportedError(OAuth2Error):
    error: str
