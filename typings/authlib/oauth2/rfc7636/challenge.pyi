import re
from collections.abc import Callable
from typing import Any, ClassVar

from ..rfc6749.grants import BaseGrant

CODE_VERIFIER_PATTERN: re.Pattern[str]
CODE_CHALLENGE_PATTERN: re.Pattern[str]

def create_s256_code_challenge(code_verifier: str) -> str: ...
def compare_plain_code_challenge(code_verifier: str, code_challenge: str) -> bool: ...
def compare_s256_code_challenge(code_verifier: str, code_challenge: str) -> bool: ...

# PKCE as an extension of the authorization code grant: register_grant(Grant, [CodeChallenge(required=True)]).
class CodeChallenge:
    DEFAULT_CODE_CHALLENGE_METHOD: ClassVar[str]
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]]
    CODE_CHALLENGE_METHODS: ClassVar[dict[str, Callable[[str, str], bool]]]
    # whether public clients (auth method "none") must send a code_verifier
    required: bool
    def __init__(self, required: bool = True) -> None: ...
    # registers the two validations below as hooks of the grant
    def __call__(self, grant: BaseGrant) -> None: ...
    # The grant hooks, called with the grant being validated and the result of the hooked step. That result is
    # None for both steps, whatever the second parameter is called; neither method reads it.
    def validate_code_challenge(self, grant: BaseGrant, redirect_uri: object) -> None: ...
    def validate_code_verifier(self, grant: BaseGrant, result: object) -> None: ...
    # read from the stored authorization code: its code_challenge and code_challenge_method attributes
    def get_authorization_code_challenge(self, authorization_code: Any) -> str | None: ...
    def get_authorization_code_challenge_method(self, authorization_code: Any) -> str | None: ...
