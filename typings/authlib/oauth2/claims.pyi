from collections.abc import Callable
from typing import Any, ClassVar, TypedDict

from joserfc.jwt import BaseClaimsRegistry, Claims
from joserfc.registry import Header

class ClaimsOption(TypedDict, total=False):
    essential: bool
    allow_blank: bool | None
    value: str | int | bool
    values: list[str | int | bool] | list[str] | list[int] | list[bool]
    # called as validate(claims, value); False makes validate() raise InvalidClaimError
    validate: Callable[[BaseClaims, Any], bool]

# Claims as a dict, checked by validate() against options (per claim, see ClaimsOption) with joserfc's
# registry_cls; params carries what the checks compare with (nonce, client_id, access_token, ...).
class BaseClaims(dict[str, Any]):
    registry_cls: ClassVar[type[BaseClaimsRegistry]]
    REGISTERED_CLAIMS: ClassVar[list[str]]
    header: Header
    options: dict[str, ClaimsOption]
    params: dict[str, Any]
    def __init__(
        self,
        claims: Claims,
        header: Header,
        options: dict[str, ClaimsOption] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None: ...
    # the claims named in REGISTERED_CLAIMS that are present
    def get_registered_claims(self) -> dict[str, Any]: ...
    # raises joserfc's claim errors (MissingClaimError, InvalidClaimError, ...)
    def validate(self, now: int | None = None, leeway: int = 0) -> None: ...

class JWTClaims(BaseClaims): ...
