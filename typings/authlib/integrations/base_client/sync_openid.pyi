from collections.abc import Mapping
from typing import Any

from authlib.oauth2.claims import ClaimsOption, JWTClaims
from authlib.oidc.core import UserInfo

class OpenIDMixin:
    def fetch_jwk_set(self, force: bool = False) -> dict[str, Any]: ...
    # the claims from the userinfo endpoint
    def userinfo(self, **kwargs: Any) -> UserInfo: ...
    # the validated claims of token["id_token"], or None when the token has none
    def parse_id_token(
        self,
        token: Mapping[str, Any],
        nonce: str | None,
        claims_options: dict[str, ClaimsOption] | None = None,
        claims_cls: type[JWTClaims] | None = None,
        leeway: int = 120,
    ) -> UserInfo | None: ...
    # {"url": ..., "state": ...}; state is None without a post_logout_redirect_uri
    def create_logout_url(
        self,
        post_logout_redirect_uri: str | None = None,
        id_token_hint: str | None = None,
        state: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]: ...
