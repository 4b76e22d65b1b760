from .auth import ClientAuth, TokenAuth
from .base import OAuth2Error
from .client import OAuth2Client
from .rfc6749 import AuthorizationServer, ClientAuthentication, JsonRequest, OAuth2Request, ResourceProtector

__all__ = [
    "OAuth2Error",
    "ClientAuth",
    "TokenAuth",
    "OAuth2Client",
    "OAuth2Request",
    "JsonRequest",
    "AuthorizationServer",
    "ClientAuthentication",
    "ResourceProtector",
]
