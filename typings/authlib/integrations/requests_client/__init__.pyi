from typing import Any

import requests

# Authlib's OAuth 2 client on requests (the tests use it as a third-party client: private_key_jwt)
class OAuth2Session(requests.Session):
    def __init__(
        self,
        client_id: str | None = None,
        client_secret: Any = None,
        token_endpoint_auth_method: Any = None,
        scope: str | None = None,
        **kwargs: Any,
    ) -> None: ...
    def fetch_token(self, url: str | None = None, **kwargs: Any) -> dict[str, Any]: ...
