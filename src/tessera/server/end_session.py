"""The end-session endpoint: OpenID Connect RP-Initiated Logout 1.0, on Authlib's ``EndSessionEndpoint``.

A client sends the person here (GET, or a form POST) to sign them out of this server, with:

* ``id_token_hint``: an ID token this server issued to the client. Its signature is checked against the keys the
  JWKS publishes (:meth:`tessera.server.keys.Keyring.verification_keys`), with ``RS256`` or ``ES256`` only (never
  ``none`` or an HMAC algorithm), and its ``iss`` must be this issuer. An expired hint is accepted (§2: the hint says
  which client and person, not that a session is alive); one signed by a key that has left the JWKS is not.
* ``client_id``: which client; with a hint, the hint's ``aud`` must be it (§2).
* ``post_logout_redirect_uri``: followed only with a valid hint, and only when it is one the hint's client
  registered, exactly (§3); ``state`` is then added to it. Without a hint nothing proves that the client sent the
  person here, so the request is refused rather than followed (§3 lets the OP decline; the conformance suite's
  ``oidcc-rp-initiated-logout-no-id-token-hint`` wants no redirect), even with a ``client_id``.

Anything else is refused with :class:`InvalidRequestError` and a description in the server's own words, which
never repeats the request: a hint this server did not sign (or cannot read), a hint for another client, an unknown
client, a redirect URI that was not registered, or one without a hint (§4: no redirect after an error).
``logout_hint`` and ``ui_locales`` are ignored. What this module returns the page (:mod:`tessera.web.end_session`)
shows, asks the person to confirm, and only then ends the session.
"""

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from joserfc.jwk import KeySet

from tessera.server.authorization import TesseraServer
from tessera.server.clients import OAuthClient
from tessera.server.keys import ALGORITHMS

__all__ = ["EndSession"]

_NOT_OURS = "The id_token_hint is not an ID token this server issued."
_OTHER_CLIENT = "The id_token_hint was issued to another application than the one named by client_id."
_UNKNOWN_CLIENT = "The application that sent you here is not registered with this server ('client_id' is unknown)."
_NO_HINT = (
    "The application asked to send you back to an address without the 'id_token_hint' that proves it is the "
    "application you signed in to."
)
_UNREGISTERED = (
    "The application asked to send you back to an address it has not registered ('post_logout_redirect_uri')."
)


class EndSession(EndSessionEndpoint):
    """Authlib's checks of an end-session request, on Tessera's keys and clients. Made per request (it is a page)."""

    def __init__(self, server: TesseraServer) -> None:
        super().__init__(server)
        self._server = server

    def check(self, request: OAuth2Request) -> EndSessionRequest:
        """The request, validated, or :class:`InvalidRequestError` (see the module)."""
        data = request.payload.data
        named = data.get("client_id")
        if named and self._server.query_client(named) is None:
            raise InvalidRequestError(_UNKNOWN_CLIENT)
        try:
            ending = self.validate_request(request)
        except InvalidRequestError as exc:
            # Authlib's two refusals: the hint does not verify, or client_id is not its aud
            raise InvalidRequestError(_OTHER_CLIENT if "aud" in str(exc.description) else _NOT_OURS) from None
        except ValueError:  # a hint that is not even a JWT's shape, which joserfc may refuse as such
            raise InvalidRequestError(_NOT_OURS) from None
        claims = ending.id_token_claims
        if claims is not None and claims.get("iss") != self._server.context.settings.issuer:
            raise InvalidRequestError(_NOT_OURS)
        if data.get("post_logout_redirect_uri") and ending.redirect_uri is None:
            raise InvalidRequestError(_UNREGISTERED if claims is not None else _NO_HINT)
        return ending

    def get_server_jwks(self) -> KeySet:
        return KeySet([key.key for key in self._server.context.keys.verification_keys().values()])

    def get_algorithms(self) -> list[str]:
        return list(ALGORITHMS)

    def _is_valid_post_logout_redirect_uri(self, client: Any, post_logout_redirect_uri: str) -> bool:
        return isinstance(client, OAuthClient) and post_logout_redirect_uri in client.record.post_logout_redirect_uris
