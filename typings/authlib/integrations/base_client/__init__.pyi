from .errors import (
    InvalidTokenError,
    MismatchingStateError,
    MissingRequestTokenError,
    MissingTokenError,
    OAuthError,
    TokenExpiredError,
    UnsupportedTokenTypeError,
)
from .framework_integration import FrameworkIntegration
from .registry import BaseOAuth
from .sync_app import BaseApp, OAuth1Mixin, OAuth2Mixin
from .sync_openid import OpenIDMixin

__all__ = [
    "BaseOAuth",
    "BaseApp",
    "OAuth1Mixin",
    "OAuth2Mixin",
    "OpenIDMixin",
    "FrameworkIntegration",
    "OAuthError",
    "MissingRequestTokenError",
    "MissingTokenError",
    "TokenExpiredError",
    "InvalidTokenError",
    "UnsupportedTokenTypeError",
    "MismatchingStateError",
]
