from typing import Any, ClassVar

from joserfc.jwk import Key, KeySet
from joserfc.jwt import Claims
from joserfc.registry import Header

from ..claims import ClaimsOption
from ..rfc6749 import BaseGrant, TokenEndpointMixin
from .assertion import _Key

JWT_BEARER_GRANT_TYPE: str

# The JWT bearer grant (RFC 7523 §2.1): a client trades an assertion it signed, naming a user in "sub", for a
# token. The client is the assertion's issuer; it need not authenticate otherwise.
class JWTBearerGrant(BaseGrant, TokenEndpointMixin):
    GRANT_TYPE: ClassVar[str]
    CLAIMS_OPTIONS: ClassVar[dict[str, ClaimsOption]]
    LEEWAY: ClassVar[int]
    @staticmethod
    def sign(
        key: _Key,
        issuer: str,
        audience: str | list[str],
        subject: str | None = None,
        issued_at: int | None = None,
        expires_at: int | None = None,
        claims: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> str: ...
    def verify_claims(self, claims: Claims) -> None: ...
    # the verified claims
    def process_assertion_claims(self, assertion: str) -> Claims: ...
    # (header, claims), unverified
    def extract_assertion(self, assertion: str) -> tuple[Header, dict[str, Any]]: ...
    # sets request.client (and request.user when the assertion has a "sub")
    def validate_token_request(self) -> None: ...
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]: ...
    # hooks you implement
    # the client whose client_id is the assertion's "iss", or None; Authlib calls check_grant_type on it
    def resolve_issuer_client(self, issuer: str) -> Any: ...
    def resolve_client_public_key(self, client: Any) -> Key | KeySet | dict[str, Any]: ...
    # the user the assertion's "sub" names, or None
    def authenticate_user(self, subject: str) -> Any: ...
    # the accepted "aud" values; none (the default) refuses every assertion
    def get_audiences(self) -> list[str]: ...
    def has_granted_permission(self, client: Any, user: Any) -> bool: ...
