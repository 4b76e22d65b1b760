from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749.endpoint import Endpoint, EndpointRequest
from authlib.oauth2.rfc6749.requests import OAuth2Request
from joserfc.jwk import KeySet

@dataclass
class EndSessionRequest(EndpointRequest):
    id_token_claims: dict[str, Any] | None = None
    # the registered post_logout_redirect_uri with state added, or None: no redirect
    redirect_uri: str | None = None
    logout_hint: str | None = None
    ui_locales: str | None = None
    @property
    def needs_confirmation(self) -> bool: ...

class EndSessionEndpoint(Endpoint):
    ENDPOINT_NAME: str
    # raises InvalidRequestError for a hint that does not verify, or a client_id that is not the hint's aud
    def validate_request(self, request: OAuth2Request) -> EndSessionRequest: ...
    def resolve_client_from_id_token_claims(self, id_token_claims: dict[str, Any]) -> Any | None: ...
    def _is_valid_post_logout_redirect_uri(self, client: Any, post_logout_redirect_uri: str) -> bool: ...
    def is_post_logout_redirect_uri_legitimate(
        self, request: OAuth2Request, post_logout_redirect_uri: str, client: Any, logout_hint: str | None
    ) -> bool: ...
    def get_server_jwks(self) -> dict[str, Any] | KeySet: ...
    def get_algorithms(self) -> list[str]: ...
    def end_session(self, end_session_request: EndSessionRequest) -> None: ...
