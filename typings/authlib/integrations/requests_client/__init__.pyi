from typing import Any

import requests

__all__ = ["OAuth2Session"]

# requests.Session that speaks OAuth 2.0 (authlib.oauth2.client.OAuth2Client underneath): PKCE, state, the
# token request and, once a token is held, Bearer on every request
class OAuth2Session(requests.Session):
    def __init__(
        self,
        client_id: str | None = None,
        client_secret: Any = None,
        token_endpoint_auth_method: Any = None,
        revocation_endpoint_auth_method: str | None = None,
        scope: str | None = None,
        state: str | None = None,
        redirect_uri: str | None = None,
        token: dict[str, Any] | None = None,
        token_placement: str = "header",
        update_token: Any = None,
        leeway: int = 60,
        default_timeout: float | None = None,
        **kwargs: Any,
    ) -> None: ...
    # the URL to send the person to and the state it holds (code_verifier and nonce go in **kwargs)
    def create_authorization_url(
        self, url: str, state: str | None = None, code_verifier: str | None = None, **kwargs: Any
    ) -> tuple[str, str]: ...
    def fetch_token(
        self,
        url: str | None = None,
        body: str = "",
        method: str = "POST",
        headers: dict[str, str] | None = None,
        auth: Any = None,
        grant_type: str | None = None,
        state: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]: ...
