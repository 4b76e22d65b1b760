"""Why a request was refused, as RFC 6750 says to tell the client.

    TokenError                    base: an HTTP status, an error code, a description safe for the client
    ├── InvalidToken              401 invalid_token: malformed, unknown, expired or revoked (§3.1)
    │   ├── MissingToken          401, no error code: the request carried no token at all (§3.1)
    │   └── InvalidDPoPProof      401 invalid_dpop_proof: the DPoP proof is missing, bad or used (RFC 9449 §7.1)
    ├── InsufficientScope         403 insufficient_scope, with the scope the resource needs (§3.1)
    └── ServerUnavailable         503: the token source cannot answer now; never a pass, never a 500

Adapters turn one into a response with :attr:`~TokenError.status_code`, :meth:`~TokenError.headers` and
:meth:`~TokenError.body`. ``description`` goes to the client; ``detail`` only to the log. Neither ever holds
the token: at most the first 8 characters of its digest.

    >>> InvalidToken("The access token expired.").www_authenticate(realm="billing")
    'Bearer realm="billing", error="invalid_token", error_description="The access token expired."'

A refusal that concerns DPoP (the request used the ``DPoP`` scheme, presented a DPoP-bound token as a bearer
token, or the validator requires DPoP) is challenged with the ``DPoP`` scheme and the proof algorithms the API
accepts (RFC 9449 §7.1): the validator sets :attr:`TokenError.dpop_algs`.

    >>> error = InvalidDPoPProof("The DPoP proof is too old.")
    >>> error.dpop_algs = "ES256 RS256"
    >>> error.www_authenticate()
    'DPoP error="invalid_dpop_proof", error_description="The DPoP proof is too old.", algs="ES256 RS256"'

An API that publishes protected-resource metadata (RFC 9728) says where in every 401 and 403, and which scopes
the resource needs (RFC 6750 §3), so that a client that has no token, or the wrong one, knows where to get one
and what to ask for. The adapters pass both when they have the metadata:

    >>> MissingToken().www_authenticate(scopes={"mcp"}, resource_metadata="https://api.example/.well-known/x")
    'Bearer scope="mcp", resource_metadata="https://api.example/.well-known/x"'
"""

from collections.abc import Iterable

__all__ = ["InsufficientScope", "InvalidDPoPProof", "InvalidToken", "MissingToken", "ServerUnavailable", "TokenError"]


def _quoted(name: str, value: str) -> str:
    # RFC 6750 §3: attribute values are quoted strings of %x20-21 / %x23-5B / %x5D-7E; never let a value break out
    if any(c in '"\\' or not " " <= c <= "~" for c in value):
        raise ValueError(f"{name} must be printable ASCII without quotes or backslashes")
    return f'{name}="{value}"'


def check_realm(realm: str | None) -> str | None:
    """``realm`` if it can go into a ``WWW-Authenticate`` header as it is; raise ``ValueError`` if not."""
    if realm is not None:
        _quoted("realm", realm)
    return realm


def check_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """``scopes`` as a set, if each is a scope name (RFC 6749 §3.3: ``%x21 / %x23-5B / %x5D-7E``, at least one
    character); raise ``ValueError`` if not. Adapters check a route's scopes once, when it is declared: they go
    into the challenges, and a name that could not would make a 500 of a refusal."""
    required = frozenset(scopes)
    for scope in required:
        if not isinstance(scope, str) or not scope or any(c in '"\\' or not "!" <= c <= "~" for c in scope):
            raise ValueError(f"{scope!r} is not a scope name: printable ASCII without spaces, quotes or backslashes")
    return required


class TokenError(Exception):
    """A request that may not reach the resource, and what to answer."""

    status_code: int = 401
    #: the RFC 6750 error code, or ``None`` when the response carries none
    error: str | None = None
    #: set for a refusal that concerns DPoP: the challenge is then ``DPoP ..., algs="<these>"`` (RFC 9449 §7.1)
    dpop_algs: str | None = None

    def __init__(self, description: str, detail: str = "") -> None:
        super().__init__(description)
        self.description = description
        self.detail = detail or description

    def www_authenticate(
        self, realm: str | None = None, *, scopes: Iterable[str] = (), resource_metadata: str | None = None
    ) -> str:
        """The ``WWW-Authenticate`` challenge (RFC 6750 §3): ``realm``, the error, the ``scope`` the resource
        needs when ``scopes`` are given, and the URL of the resource's metadata (RFC 9728 §5.1) when given."""
        params = [_quoted("realm", realm)] if realm is not None else []
        if self.error is not None:
            params.append(_quoted("error", self.error))
            params.append(_quoted("error_description", self.description))
        scope = self._scope(scopes)
        if scope is not None:
            params.append(_quoted("scope", scope))
        if resource_metadata is not None:
            params.append(_quoted("resource_metadata", resource_metadata))
        scheme = "Bearer"
        if self.dpop_algs is not None:
            scheme = "DPoP"
            params.append(_quoted("algs", self.dpop_algs))
        return f"{scheme} " + ", ".join(params) if params else scheme

    def _scope(self, scopes: Iterable[str]) -> str | None:
        return " ".join(sorted(scopes)) or None

    def headers(
        self, realm: str | None = None, *, scopes: Iterable[str] = (), resource_metadata: str | None = None
    ) -> dict[str, str]:
        """Headers of the response: the challenge (see :meth:`www_authenticate`)."""
        return {"WWW-Authenticate": self.www_authenticate(realm, scopes=scopes, resource_metadata=resource_metadata)}

    def body(self) -> dict[str, str]:
        """A JSON body in the shape of OAuth error responses."""
        if self.error is None:
            return {"error_description": self.description}
        return {"error": self.error, "error_description": self.description}


class InvalidToken(TokenError):
    """RFC 6750 §3.1 ``invalid_token``: the token is malformed, unknown, expired or revoked, or was issued for
    another resource (HTTP 401).

    Which of the first four it was is not told apart to the client: that would only help someone guessing tokens.
    Another resource is: the client must then ask for a token for this one rather than retry or refresh, and the
    description tells its holder no more than the API the token was meant for would.
    """

    status_code = 401
    error: str | None = "invalid_token"


class MissingToken(InvalidToken):
    """RFC 6750 §3.1: a request with no authentication at all gets a bare challenge, with no error code."""

    error = None

    def __init__(self) -> None:
        super().__init__("An access token is required.")


class InvalidDPoPProof(InvalidToken):
    """RFC 9449 §7.1 ``invalid_dpop_proof`` (HTTP 401): the request's ``DPoP`` proof is missing, malformed, badly
    signed, for another method or URL, stale, not for this access token (``ath``), or already used."""

    error = "invalid_dpop_proof"


class InsufficientScope(TokenError):
    """RFC 6750 §3.1 ``insufficient_scope``: the token is good but lacks a scope the resource needs (HTTP 403).

    ``scope`` lists every scope the resource requires, as §3 suggests, so the client knows what to ask for.
    """

    status_code = 403
    error = "insufficient_scope"

    def __init__(self, required: frozenset[str]) -> None:
        self.required = required
        super().__init__("The access token does not grant the scope this resource needs.")

    def _scope(self, scopes: Iterable[str]) -> str | None:
        return " ".join(sorted(self.required))


class ServerUnavailable(TokenError):
    """The token source cannot answer (authorization server or database unreachable, or a malformed answer):
    HTTP 503 with ``Retry-After``, so clients retry rather than drop their token. Fail closed: the request is
    never let through on a guess.

    The error code is RFC 6749's ``temporarily_unavailable``, the one the authorization server answers with too.
    """

    status_code = 503
    error = "temporarily_unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__("The authorization server cannot be reached; try again shortly.", detail)

    def headers(
        self, realm: str | None = None, *, scopes: Iterable[str] = (), resource_metadata: str | None = None
    ) -> dict[str, str]:
        # no challenge: nothing is wrong with the token, and nothing the client could change would help
        return {"Retry-After": "1"}
