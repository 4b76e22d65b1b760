from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.grants import BaseGrant

from ._legacy import LegacyMixin

# An extension of the authorization code grant, registered with it (register_grant(Grant, [OpenIDToken()])): a
# token response whose scope has "openid" gets an "id_token". It runs as the grant's
# "after_create_token_response" hook, so a grant whose create_token_response is not Authlib's (hooked) one must
# run that hook itself.
class OpenIDToken(LegacyMixin):
    # nonce, auth_time, acr and amr of the stored code (an oidc.core AuthorizationCodeMixin)
    def get_authorization_code_claims(self, authorization_code: Any) -> dict[str, Any]: ...
    # hook you implement: the user's claims for the ID token, as UserInfo(...).filter(scope) gives them
    def generate_user_info(self, user: Any, scope: str) -> dict[str, Any]: ...
    def encode_id_token(self, token: dict[str, Any], request: OAuth2Request) -> str: ...
    # the hook: response is the grant's (status, token, headers); adds "id_token" to the token
    def process_token(
        self, grant: BaseGrant, response: tuple[int, dict[str, Any], list[tuple[str, str]]]
    ) -> dict[str, Any]: ...
    def __call__(self, grant: BaseGrant) -> None: ...

# OpenIDToken that also checks the authorization request (nonce, prompt) when its scope has "openid".
class OpenIDCode(OpenIDToken):
    require_nonce: bool
    def __init__(self, require_nonce: bool = False) -> None: ...
    # hook you implement: whether this nonce was used before (a replay)
    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool: ...
    # the hook (redirect_uri is in fact the hooked step's result, None)
    def validate_openid_authorization_request(self, grant: BaseGrant, redirect_uri: object) -> None: ...
