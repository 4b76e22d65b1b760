from typing import ClassVar

from authlib.oauth2.rfc6749 import OAuth2Request

from .implicit import OpenIDImplicitGrant

# The hybrid flow (response types "code id_token", "code token" and "code id_token token").
class OpenIDHybridGrant(OpenIDImplicitGrant):
    AUTHORIZATION_CODE_LENGTH: ClassVar[int]
    def generate_authorization_code(self) -> str: ...
    # hook you implement, as for the authorization code grant
    def save_authorization_code(self, code: str, request: OAuth2Request) -> None: ...
