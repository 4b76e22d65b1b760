"""What OpenID Connect adds to the authorization request before anyone is asked anything (Core §3.1.2.1, §3.1.2.3,
§6): ``prompt``, ``max_age``, and the ``request`` objects Tessera does not support. The consent view
(:mod:`tessera.web.consent`) calls :func:`decide` once the request is known to come from a registered client
with a registered redirect URI, so every refusal here goes back to the client with ``state`` and ``iss``.

* ``prompt=none``: never a page. No session, or one older than ``max_age``: ``login_required``; consent needed:
  ``consent_required``. ``none`` with any other value: ``invalid_request``.
* ``prompt=login``, or a session older than ``max_age``: sign in again (the ID token's ``auth_time`` moves).
* ``prompt=consent``: the consent page even if the person agreed before.
* ``prompt=select_account``: one account per browser here, so nothing to select: as if it were not sent.
* a value OpenID Connect does not define, or a ``max_age`` that is not a whole number of seconds:
  ``invalid_request``; ``request``: ``request_not_supported``; ``request_uri``: ``request_uri_not_supported``.

Plain OAuth requests (no ``openid`` in the scope) are left as they always were.
"""

import dataclasses
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError

from tessera.web.security import SignedIn

__all__ = ["Decision", "decide", "without_login_prompt"]

_PROMPTS = frozenset({"none", "login", "consent", "select_account"})


@dataclasses.dataclass(frozen=True)
class Decision:
    """What the consent view does: sign in again first, and whether consent is asked even if remembered; or
    ``error``, sent back to the client."""

    sign_in_again: bool = False
    ask_consent: bool = False
    silent: bool = False
    error: OAuth2Error | None = None


def _refuse(grant: Any, error: OAuth2Error) -> Decision:
    error.redirect_uri = grant.redirect_uri
    error.state = grant.request.payload.state
    return Decision(error=error)


def decide(grant: Any, signed_in: SignedIn | None, now: int) -> Decision:
    data = grant.request.payload.data
    if not _is_openid(grant.request.payload.scope):
        return Decision()
    # Authlib's OpenID Connect package takes joserfc and cryptography: imported by the first OpenID request
    from authlib.oidc.core.errors import LoginRequiredError, RequestNotSupportedError, RequestURINotSupportedError

    if data.get("request"):
        return _refuse(grant, RequestNotSupportedError("Request objects are not supported."))
    if data.get("request_uri"):
        return _refuse(grant, RequestURINotSupportedError("Request objects are not supported."))
    prompts = set((data.get("prompt") or "").split())
    unknown = sorted(prompts - _PROMPTS)
    if unknown:
        return _refuse(grant, InvalidRequestError(f"Unknown 'prompt' value {unknown[0]!r}."))
    if "none" in prompts and len(prompts) > 1:
        return _refuse(grant, InvalidRequestError("'prompt=none' cannot be combined with other values."))
    max_age = data.get("max_age")
    too_old = False
    if max_age is not None:
        if not max_age.isdigit() or len(max_age) > 10:
            return _refuse(grant, InvalidRequestError("'max_age' must be a whole number of seconds."))
        too_old = signed_in is not None and now - signed_in.session.auth_time > int(max_age)
    silent = "none" in prompts
    if silent and (signed_in is None or too_old):
        return _refuse(grant, LoginRequiredError())
    return Decision(sign_in_again="login" in prompts or too_old, ask_consent="consent" in prompts, silent=silent)


def consent_required(grant: Any) -> OAuth2Error:
    from authlib.oidc.core.errors import ConsentRequiredError

    error = ConsentRequiredError()
    error.redirect_uri = grant.redirect_uri
    error.state = grant.request.payload.state
    return error


def without_login_prompt(path: str, args: Any) -> str:
    """The authorization request to come back to after signing in again: the same, less ``prompt=login`` (or it
    would ask forever) and with ``max_age`` met by the new sign-in."""
    pairs = []
    for name, value in args.items(multi=True):
        if name == "prompt":
            rest = " ".join(p for p in value.split() if p != "login")
            if rest:
                pairs.append((name, rest))
            continue
        pairs.append((name, value))
    return f"{path}?{urlencode(pairs)}"


def _is_openid(scope: str | None) -> bool:
    return "openid" in (scope or "").split()
