from typing import Any, ClassVar

from ..rfc6749 import BaseGrant, TokenEndpointMixin

DEVICE_CODE_GRANT_TYPE: str

# The device access token request (RFC 8628 §3.4): the device polls with its device_code until the user has
# approved or denied the user_code.
class DeviceCodeGrant(BaseGrant, TokenEndpointMixin):
    GRANT_TYPE: ClassVar[str]
    # sets request.user, request.client and request.credential; AuthorizationPendingError, SlowDownError,
    # ExpiredTokenError or AccessDeniedError while there is no token to give
    def validate_token_request(self) -> None: ...
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]: ...
    # the user who approved; raises as above otherwise
    def validate_device_credential(self, credential: Any) -> Any: ...
    # hooks you implement
    # the stored credential for this device_code, or None; Authlib calls the DeviceCredentialMixin methods on it
    # (a DeviceCredentialDict is one)
    def query_device_credential(self, device_code: str) -> Any: ...
    # (user, approved) once the user has answered for this user_code, None until then
    def query_user_grant(self, user_code: str) -> tuple[Any, bool] | None: ...
    # whether the device polls faster than its interval
    def should_slow_down(self, credential: Any) -> bool: ...
