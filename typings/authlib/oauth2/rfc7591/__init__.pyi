from .claims import ClientMetadataClaims
from .endpoint import ClientRegistrationEndpoint
from .errors import (
    InvalidClientMetadataError,
    InvalidRedirectURIError,
    InvalidSoftwareStatementError,
    UnapprovedSoftwareStatementError,
)

__all__ = [
    "ClientMetadataClaims",
    "ClientRegistrationEndpoint",
    "InvalidRedirectURIError",
    "InvalidClientMetadataError",
    "InvalidSoftwareStatementError",
    "UnapprovedSoftwareStatementError",
]
