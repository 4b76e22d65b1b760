from typing import Any, ClassVar

from authlib.oauth2.claims import JWTClaims

__all__ = ["IDToken", "CodeIDToken", "ImplicitIDToken", "HybridIDToken", "UserInfo", "get_claim_cls_by_response_type"]

# The claims of an ID token; validate() also checks auth_time (against params["max_age"]), nonce, amr, azp and
# at_hash (against params["access_token"]).
class IDToken(JWTClaims):
    ESSENTIAL_CLAIMS: ClassVar[list[str]]
    def validate(self, now: int | None = None, leeway: int = 0) -> None: ...
    def validate_auth_time(self) -> None: ...
    def validate_nonce(self) -> None: ...
    def validate_amr(self) -> None: ...
    def validate_azp(self) -> None: ...
    def validate_at_hash(self) -> None: ...

class CodeIDToken(IDToken):
    RESPONSE_TYPES: ClassVar[tuple[str, ...]]

class ImplicitIDToken(IDToken):
    RESPONSE_TYPES: ClassVar[tuple[str, ...]]

class HybridIDToken(ImplicitIDToken):
    def validate(self, now: int | None = None, leeway: int = 0) -> None: ...
    # against params["code"]
    def validate_c_hash(self) -> None: ...

# Standard claims (OpenID Connect Core §5.1) as a dict; those in REGISTERED_CLAIMS are also attributes, None
# when absent.
class UserInfo(dict[str, Any]):
    REGISTERED_CLAIMS: ClassVar[list[str]]
    SCOPES_CLAIMS_MAPPING: ClassVar[dict[str, list[str]]]
    # ValueError when "locale" is not a BCP 47 language tag
    def validate_locale(self) -> None: ...
    # only the claims the scopes in scope (space-separated) give access to (OpenID Connect Core §5.4)
    def filter(self, scope: str) -> UserInfo: ...
    def __getattr__(self, key: str) -> Any: ...

# the ID token class for a response type, or None
def get_claim_cls_by_response_type(response_type: str) -> type[IDToken] | None: ...
