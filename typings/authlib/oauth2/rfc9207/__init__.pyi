from .discovery import AuthorizationServerMetadata
from .parameter import IssuerParameter

__all__ = ["AuthorizationServerMetadata", "IssuerParameter"]
