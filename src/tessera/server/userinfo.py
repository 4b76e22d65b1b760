"""The UserInfo endpoint (OpenID Connect Core §5.3): GET or POST with the access token as a Bearer header
(RFC 6750 §2.1) or, in a POST, as the form body's ``access_token`` (§2.2), or with the ``DPoP`` scheme and a proof
(RFC 9449 §7.1); the user's claims by the token's scope (:func:`tessera.server.id_tokens.claims_for`).

* no token: 401 with bare ``Bearer`` and ``DPoP algs="..."`` challenges and no error code (RFC 6750 §3.1);
* a malformed, unknown, expired or revoked token, or one of a user who is gone or disabled: 401 ``invalid_token``;
* a token without ``openid`` (a client-credentials token among them): 403 ``insufficient_scope``;
* a DPoP-bound token sent as a bearer token, or a token sent with a proof made with another key than its own:
  401 ``invalid_token`` (RFC 9449 §7.2); a proof that does not hold: 401 ``invalid_dpop_proof``; with
  ``TESSERA_DPOP_NONCE=on``, a proof without the server's nonce: 401 ``use_dpop_nonce`` (§9).

The proof is checked as the resource toolkit checks one (:func:`tessera.dpop.presented_proof` and
:func:`tessera.dpop.check_binding`), for this endpoint's URL as the issuer names it (behind proxies, what the
client called), its ``jti`` recorded in the token endpoint's replay cache once everything else passed. A refusal
that concerns DPoP is challenged with the ``DPoP`` scheme and the accepted algorithms; with nonces on, every
answer carries the current one in ``DPoP-Nonce``.

One indexed read for the token (the same as introspection) and one for the user. Answers are ``no-store``.
"""

from urllib.parse import parse_qs

from authlib.oauth2.rfc6749.errors import InvalidRequestError

from tessera.dpop import BindingError, Proof, ProofError, check_binding, presented_proof
from tessera.server.context import ServerContext
from tessera.server.dpop import DPoP
from tessera.server.request import HttpRequest, Reply
from tessera.tokens import MalformedToken, TokenKind, digest, parse

__all__ = ["userinfo"]

_REALM = 'realm="userinfo"'
_ALGS = 'algs="{}"'.format(" ".join(DPoP.ALGORITHMS))
_UNUSABLE = "The access token is not valid."
_NO_STORE = ("Cache-Control", "no-store")


class _Refused(Exception):
    """A refusal: the status, the RFC 6750 / RFC 9449 error code and whether it concerns DPoP."""

    def __init__(self, status: int, error: str, description: str, *, dpop: bool) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.dpop = dpop


def _credentials(request: HttpRequest) -> tuple[bool, str] | None:
    """Whether the scheme is DPoP, and the access token, from the ``Authorization`` header or, in a POST without
    one, the form body's ``access_token`` (RFC 6750 §2.2, a bearer token); never both (§2)."""
    header = request.headers.get("authorization", "").strip()
    body = request.body if request.method == "POST" else b""
    form = parse_qs(body.decode("latin-1"), keep_blank_values=True) if body else {}
    if header:
        if "access_token" in form:
            raise InvalidRequestError("Send the access token one way only.")
        scheme, _, token = header.partition(" ")
        lowered = scheme.lower()
        return (lowered == "dpop", token.strip()) if lowered in ("bearer", "dpop") and token.strip() else None
    sent = form.get("access_token", [])
    if len(sent) > 1:
        raise InvalidRequestError("'access_token' was sent more than once.")
    return (False, sent[0]) if sent and sent[0] else None


def userinfo(context: ServerContext, request: HttpRequest) -> Reply:
    now = context.clock()
    nonce = context.dpop.nonce(now)
    extra = [] if nonce is None else [("DPoP-Nonce", nonce)]
    credentials = _credentials(request)
    if credentials is None:
        body = {"error_description": "Send the access token in an 'Authorization: Bearer' or 'DPoP' header."}
        challenges = [("WWW-Authenticate", f"Bearer {_REALM}"), ("WWW-Authenticate", f"DPoP {_REALM}, {_ALGS}")]
        return 401, body, [*challenges, _NO_STORE, *extra]
    scheme_is_dpop, token = credentials
    try:
        return 200, _claims(context, request, token, scheme_is_dpop, now), [_NO_STORE, ("Pragma", "no-cache"), *extra]
    except _Refused as refused:
        return _refusal(refused, extra)


def _claims(
    context: ServerContext, request: HttpRequest, token: str, scheme_is_dpop: bool, now: float
) -> dict[str, object]:
    try:
        parse(token, TokenKind.ACCESS)
    except MalformedToken:
        raise _Refused(401, "invalid_token", _UNUSABLE, dpop=scheme_is_dpop) from None
    proof = _proof(context, request, token, now) if scheme_is_dpop else None
    active = context.store.tokens.active(digest(token), context.now())
    if active is None:
        raise _Refused(401, "invalid_token", _UNUSABLE, dpop=scheme_is_dpop)
    try:
        check_binding(active.jkt, proof)
    except BindingError as exc:
        raise _Refused(401, "invalid_token", str(exc), dpop=True) from None
    if active.user_id is None or "openid" not in active.scope.split():
        description = "The access token was not issued with the 'openid' scope."
        raise _Refused(403, "insufficient_scope", description, dpop=scheme_is_dpop)
    user = context.store.users.by_id(active.user_id)
    if user is None or user.disabled:
        raise _Refused(401, "invalid_token", _UNUSABLE, dpop=scheme_is_dpop)
    if proof is not None and not context.dpop.replay.first_use(proof):
        raise _Refused(401, "invalid_dpop_proof", "This DPoP proof was already used.", dpop=True)
    from tessera.server.id_tokens import claims_for  # Authlib's OpenID Connect modules: with the first answer

    return dict(claims_for(user, active.scope))


def _proof(context: ServerContext, request: HttpRequest, token: str, now: float) -> Proof:
    url = context.settings.issuer + request.path
    try:
        proof = presented_proof(
            request.headers.get("dpop"), method=request.method, url=url, now=now, access_token=token
        )
    except ProofError as exc:
        raise _Refused(401, "invalid_dpop_proof", str(exc), dpop=True) from None
    if not context.dpop.accepts_nonce(proof, now):
        description = "Send the DPoP proof again with the server's nonce from DPoP-Nonce."
        raise _Refused(401, "use_dpop_nonce", description, dpop=True)
    return proof


def _refusal(refused: _Refused, extra: list[tuple[str, str]]) -> Reply:
    params = f'{_REALM}, error="{refused.error}", error_description="{refused.description}"'
    challenge = f"DPoP {params}, {_ALGS}" if refused.dpop else f"Bearer {params}"
    body = {"error": refused.error, "error_description": refused.description}
    return refused.status, body, [("WWW-Authenticate", challenge), _NO_STORE, *extra]
