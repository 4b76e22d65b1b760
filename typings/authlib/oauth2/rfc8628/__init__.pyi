from .device_code import DEVICE_CODE_GRANT_TYPE, DeviceCodeGrant
from .endpoint import DeviceAuthorizationEndpoint
from .errors import AuthorizationPendingError, ExpiredTokenError, SlowDownError
from .models import DeviceCredentialDict, DeviceCredentialMixin

__all__ = [
    "DeviceAuthorizationEndpoint",
    "DeviceCodeGrant",
    "DEVICE_CODE_GRANT_TYPE",
    "DeviceCredentialMixin",
    "DeviceCredentialDict",
    "AuthorizationPendingError",
    "SlowDownError",
    "ExpiredTokenError",
]
