from .authorization_request import OpenIDJWTAuthenticationRequest
from .claims import CodeIDToken, HybridIDToken, IDToken, ImplicitIDToken, UserInfo, get_claim_cls_by_response_type
from .grants import OpenIDCode, OpenIDHybridGrant, OpenIDImplicitGrant, OpenIDToken
from .models import AuthorizationCodeMixin
from .userinfo import UserInfoEndpoint

__all__ = [
    "OpenIDJWTAuthenticationRequest",
    "AuthorizationCodeMixin",
    "IDToken",
    "CodeIDToken",
    "ImplicitIDToken",
    "HybridIDToken",
    "UserInfo",
    "UserInfoEndpoint",
    "get_claim_cls_by_response_type",
    "OpenIDToken",
    "OpenIDCode",
    "OpenIDHybridGrant",
    "OpenIDImplicitGrant",
]
