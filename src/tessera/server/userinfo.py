"""The UserInfo endpoint (OpenID Connect Core §5.3): GET or POST with the access token as a Bearer header
(RFC 6750 §2.1) or, in a POST, as the form body's ``access_token`` (§2.2), the user's claims by the token's scope
(:func:`tessera.server.openid.claims_for`).

* no token: 401 with a bare ``WWW-Authenticate: Bearer`` challenge and no error code (RFC 6750 §3.1);
* a malformed, unknown, expired or revoked token, or one of a user who is gone or disabled: 401 ``invalid_token``;
* a token without ``openid`` (a client-credentials token among them): 403 ``insufficient_scope``.

One indexed read for the token (the same as introspection) and one for the user. Answers are ``no-store``.
"""

from urllib.parse import parse_qs

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError

from tessera.server.context import ServerContext
from tessera.server.openid import claims_for
from tessera.server.request import HttpRequest, Reply
from tessera.tokens import MalformedToken, TokenKind, digest, parse

__all__ = ["userinfo"]

_CHALLENGE = ("WWW-Authenticate", 'Bearer realm="userinfo"')


def _bearer(request: HttpRequest) -> str | None:
    """The access token from the ``Authorization`` header or, in a POST without one, the form body's
    ``access_token`` (RFC 6750 §2.2); never both (§2)."""
    header = request.headers.get("authorization", "").strip()
    body = request.body if request.method == "POST" else b""
    form = parse_qs(body.decode("latin-1"), keep_blank_values=True) if body else {}
    if header:
        if "access_token" in form:
            raise InvalidRequestError("Send the access token one way only.")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    sent = form.get("access_token", [])
    if len(sent) > 1:
        raise InvalidRequestError("'access_token' was sent more than once.")
    return sent[0] if sent and sent[0] else None


def userinfo(context: ServerContext, request: HttpRequest) -> Reply:
    token = _bearer(request)
    if token is None:
        body = {"error_description": "Send the access token in an 'Authorization: Bearer' header."}
        return 401, body, [_CHALLENGE, ("Cache-Control", "no-store")]
    try:
        parse(token, TokenKind.ACCESS)
    except MalformedToken:
        raise InvalidTokenError("The access token is not valid.", realm="userinfo") from None
    active = context.store.tokens.active(digest(token), context.now())
    if active is None:
        raise InvalidTokenError("The access token is not valid.", realm="userinfo")
    if active.user_id is None or "openid" not in active.scope.split():
        raise InsufficientScopeError("The access token was not issued with the 'openid' scope.")
    user = context.store.users.by_id(active.user_id)
    if user is None or user.disabled:
        raise InvalidTokenError("The access token is not valid.", realm="userinfo")
    return 200, dict(claims_for(user, active.scope)), [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
