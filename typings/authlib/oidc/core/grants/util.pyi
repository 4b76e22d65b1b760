from collections.abc import Callable
from typing import Any, TypeVar

from authlib.oauth2.rfc6749 import OAuth2Request
from joserfc.jwk import Key, KeySet

_G = TypeVar("_G")

def is_openid_scope(scope: str | None) -> bool: ...

# sets grant.prompt from the request's prompt and the user; LoginRequiredError, ConsentRequiredError, ... for
# prompt=none without a user; returns the grant
def validate_request_prompt(grant: _G, redirect_uri: str | None, redirect_fragment: bool = False) -> _G: ...
def validate_form_post_redirect_uri(grant: Any, redirect_uri: str) -> None: ...

# InvalidRequestError for a missing (if required) or replayed nonce; True when there is none
def validate_nonce(
    request: OAuth2Request, exists_nonce: Callable[[str, OAuth2Request], bool], required: bool = False
) -> bool | None: ...
def generate_id_token(
    token: dict[str, Any],
    user_info: dict[str, Any],
    key: Key | KeySet | dict[str, Any],
    iss: str,
    aud: str | list[str],
    alg: str = "RS256",
    exp: int = 3600,
    nonce: str | None = None,
    auth_time: int | None = None,
    acr: str | None = None,
    amr: list[str] | None = None,
    code: str | None = None,
    kid: str | None = None,
) -> str: ...

# a 302 to redirect_uri with params in the query or the fragment, or a 200 self-submitting form for form_post
def create_response_mode_response(
    redirect_uri: str, params: list[tuple[str, Any]], response_mode: str
) -> tuple[int, str, list[tuple[str, str]]]: ...
