from typing import Any

from authlib.oauth2.rfc9101 import JWTAuthenticationRequest

# RFC 9101 request objects as OpenID Connect has them: with require_request_uri_registration in the server
# metadata, a request_uri must be one get_client_request_uris lists.
class OpenIDJWTAuthenticationRequest(JWTAuthenticationRequest):
    def get_client_request_uris(self, client: Any) -> list[str]: ...
