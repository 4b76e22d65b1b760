"""Errors the server answers: the OAuth error classes Authlib lacks, and :func:`failure`, the one place that
decides what an unexpected exception becomes, for machines (JSON) and for people (a page) alike.

One class per error code, the code a class attribute, as Authlib's own (``authlib/oauth2/rfc6749/errors.py``).
"""

import dataclasses
import logging
from collections.abc import Mapping

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError

from tessera.errors import StoreError, StoreUnavailable, ValueRefused

__all__ = [
    "DATABASE_AWAY",
    "JSON_NO_STORE",
    "Failure",
    "InvalidTargetError",
    "SlowDownError",
    "UnsupportedTokenTypeError",
    "check_token_params",
    "error_body",
    "failure",
]

_log = logging.getLogger("tessera")

#: what a client is told while the database cannot be reached (503 ``temporarily_unavailable``)
DATABASE_AWAY = "The server cannot reach its database; try again shortly."
#: headers of every JSON answer of an OAuth endpoint (RFC 6749 §5.1: tokens, and errors, are never cached)
JSON_NO_STORE = (("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache"))


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


class InvalidTargetError(OAuth2Error):
    """HTTP 400: the ``resource`` asked for is malformed, not registered, or not covered by the grant
    (RFC 8707 §2, §2.2). At the authorization endpoint it goes back to the client's redirect URI."""

    error = "invalid_target"


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


def error_body(error: str, description: str) -> dict[str, str]:
    """An OAuth error response's body (RFC 6749 §5.2)."""
    return {"error": error, "error_description": description}


@dataclasses.dataclass(frozen=True)
class Failure:
    """What a request that failed unexpectedly is answered: ``error`` and ``description`` for a machine,
    ``title`` and ``message`` for a person."""

    status: int
    error: str
    description: str
    title: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()


_AWAY = Failure(
    503,
    "temporarily_unavailable",
    DATABASE_AWAY,
    "Temporarily unavailable",
    "Please try again in a moment.",
    (("Retry-After", "1"),),
)
_MISCONFIGURED = Failure(
    500, "server_error", "The server is not set up correctly.", "Server error", "The server is not set up correctly."
)
_REFUSED_VALUE = Failure(
    400,
    "invalid_request",
    "The request holds a value the server cannot store.",
    "Bad request",
    "The request holds a value this server cannot accept.",
)
_UNEXPECTED = Failure(
    500, "server_error", "An unexpected error occurred.", "Server error", "Something went wrong on our side."
)


def failure(exc: BaseException, method: str, path: str) -> Failure:
    """Log ``exc`` (a warning for storage trouble, the traceback for anything else) and say how to answer.
    The detail stays in the log: it may name the database or the schema. A value the database refused is the
    request's fault: 400 ``invalid_request``, never a 500."""
    if isinstance(exc, StoreError):
        _log.warning("storage error on %s %s: %s", method, path, exc)
        if isinstance(exc, ValueRefused):
            return _REFUSED_VALUE
        return _AWAY if isinstance(exc, StoreUnavailable) else _MISCONFIGURED
    _log.error("unexpected error on %s %s", method, path, exc_info=exc)
    return _UNEXPECTED
