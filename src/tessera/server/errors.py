"""OAuth errors Tessera answers that Authlib has no class for, or gives the wrong HTTP status.

One class per error code, the code a class attribute, as Authlib's own (``authlib/oauth2/rfc6749/errors.py``).
"""

from collections.abc import Mapping

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError

__all__ = ["SlowDownError", "UnsupportedTokenTypeError", "check_token_params"]


class SlowDownError(OAuth2Error):
    """HTTP 429: this client sent more requests than its rate limit allows.

    ``slow_down`` is registered for token-endpoint responses (RFC 8628 §3.5, IANA "OAuth Extensions Error
    Registry") and says exactly this; ``Retry-After`` says for how long.
    """

    error = "slow_down"
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests from this client; retry after {retry_after} seconds.")
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


class UnsupportedTokenTypeError(OAuth2Error):
    """HTTP 400: the ``token_type_hint`` names a kind of token this server does not have (RFC 7009 §2.2.1).

    Authlib's class of this name answers 401 with a ``WWW-Authenticate`` challenge, but the client did
    authenticate: RFC 6749 §5.2 keeps 401 for ``invalid_client``.
    """

    error = "unsupported_token_type"
    status_code = 400


def check_token_params(form: Mapping[str, str]) -> None:
    """Introspection and revocation: ``token`` is required; ``token_type_hint`` is optional, an empty one
    counts as absent (RFC 6749 §3.1), and any other than ``access_token`` or ``refresh_token`` is refused."""
    if form.get("token") is None:
        raise InvalidRequestError("Missing 'token' in request.")
    hint = form.get("token_type_hint")
    if hint and hint not in ("access_token", "refresh_token"):
        raise UnsupportedTokenTypeError("Unknown token_type_hint: use access_token or refresh_token.")
