from .authorization_server import JWTAuthenticationRequest
from .discovery import AuthorizationServerMetadata
from .registration import ClientMetadataClaims

__all__ = ["AuthorizationServerMetadata", "JWTAuthenticationRequest", "ClientMetadataClaims"]
