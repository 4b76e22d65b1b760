"""Authorization server metadata, RFC 8414 (with RFC 9207's ``authorization_response_iss_parameter_supported``),
derived from what the server has: the endpoints of the request map, the grants and endpoints registered on the
:class:`~tessera.server.authorization.TesseraServer`, and the scopes the operator declared
(:mod:`tessera.server.scopes`). Nothing here lists a grant type, an authentication method or a scope by hand.

The document is built once per process and kept as bytes. Only ``scopes_supported`` depends on the database: the
declared scopes' names (one read of a small table, no client read) are read again at most every ``refresh``
seconds, and the document is rebuilt only when they changed. Scopes change through ``tessera scopes``, in
another process that cannot tell this one, so a scope declared or deleted there shows here within ``refresh``
seconds (``tessera serve`` uses the client cache's 5 s, the bound within which a client changed by the CLI is
seen too); one changed in this process shows at once after :meth:`Metadata.invalidate`.
"""

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from authlib.oauth2.rfc6749.grants import AuthorizationEndpointMixin, TokenEndpointMixin

from tessera.server.authorization import TesseraServer
from tessera.server.client_keys import ALGORITHMS as ASSERTION_ALGORITHMS
from tessera.server.clients import PRIVATE_KEY_JWT
from tessera.server.keys import ALGORITHMS

__all__ = ["CLAIMS", "Metadata", "derived_metadata", "openid_metadata"]


def _ordered(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def derived_metadata(server: TesseraServer, endpoints: Mapping[str, str], scopes: Iterable[str]) -> dict[str, Any]:
    """The document; ``endpoints`` maps metadata names (``token_endpoint``) to paths below the issuer."""
    issuer = server.context.settings.issuer
    grants = [grant for grant, _ in server.grants]
    authorization_grants = [g for g in grants if issubclass(g, AuthorizationEndpointMixin)]
    challenge_methods = [
        method
        for _, extensions in server.grants
        for extension in extensions
        for method in getattr(extension, "SUPPORTED_CODE_CHALLENGE_METHOD", ())
    ]
    document: dict[str, Any] = {"issuer": issuer}
    document.update({name: issuer + path for name, path in endpoints.items()})
    document.update(
        {
            "scopes_supported": sorted(set(scopes)),
            "response_types_supported": _ordered(t for g in authorization_grants for t in sorted(g.RESPONSE_TYPES)),
            # Authlib's authorization-code grant answers in the query (RFC 6749 §4.1.2) and in no other mode
            "response_modes_supported": ["query"],
            "grant_types_supported": _ordered(
                g.GRANT_TYPE for g in grants if issubclass(g, TokenEndpointMixin) and g.GRANT_TYPE
            ),
            "code_challenge_methods_supported": _ordered(challenge_methods),
            "token_endpoint_auth_methods_supported": _ordered(
                m for g in grants for m in getattr(g, "TOKEN_ENDPOINT_AUTH_METHODS", ())
            ),
            "authorization_response_iss_parameter_supported": server.issuer_parameter is not None,
            # RFC 9449 §5.1: the token endpoint takes DPoP proofs signed with these
            "dpop_signing_alg_values_supported": list(server.context.dpop.ALGORITHMS),
        }
    )
    for name, endpoint in server.endpoints.items():
        # RFC 8414 §2 names these for introspection and revocation; an endpoint may say it has no such member
        if getattr(endpoint, "AUTH_METHODS_IN_METADATA", True):
            document[f"{name}_endpoint_auth_methods_supported"] = list(endpoint.CLIENT_AUTH_METHODS)
    # RFC 8414 §2: the algorithms of private_key_jwt assertions, for each endpoint that takes them
    for name in ("token", *server.endpoints):
        if PRIVATE_KEY_JWT in document.get(f"{name}_endpoint_auth_methods_supported", ()):
            document[f"{name}_endpoint_auth_signing_alg_values_supported"] = list(ASSERTION_ALGORITHMS)
    if server.context.settings.client_id_metadata:  # tessera.server.client_documents
        document["client_id_metadata_document_supported"] = True
    return document


def openid_metadata(document: dict[str, Any]) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 §3: the RFC 8414 ``document`` (the same endpoints) and what an OpenID Provider
    adds: public subjects only, the ID-token algorithms a client may be registered for, the claims released."""
    return {
        **document,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(ALGORITHMS),
        "claims_supported": list(CLAIMS),
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }


#: the claims an ID token or the userinfo endpoint may carry (tessera.server.openid)
CLAIMS = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "preferred_username", "name",
          "email", "email_verified")  # fmt: skip


class Metadata:
    """The document as JSON bytes, rebuilt only when the declared scopes have changed."""

    def __init__(
        self,
        server: TesseraServer,
        endpoints: Mapping[str, str],
        *,
        refresh: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._server = server
        self._endpoints = dict(endpoints)
        self._refresh = refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._scopes: tuple[str, ...] | None = None
        self._body = b""
        self._openid = b""
        self._checked = float("-inf")

    def body(self, *, openid: bool = False) -> bytes:
        """The RFC 8414 document, or with ``openid`` the OpenID Connect Discovery one (a superset)."""
        now = self._clock()
        if now - self._checked >= self._refresh:
            with self._lock:
                if now - self._checked >= self._refresh:
                    scopes = tuple(self._server.context.store.scopes.names())
                    if scopes != self._scopes:
                        document = derived_metadata(self._server, self._endpoints, scopes)
                        self._body = json.dumps(document, separators=(",", ":")).encode()
                        self._openid = json.dumps(openid_metadata(document), separators=(",", ":")).encode()
                        self._scopes = scopes
                    self._checked = now
        return self._openid if openid else self._body

    def invalidate(self) -> None:
        """Read the scopes again at the next request (a scope changed in this process)."""
        with self._lock:
            self._checked = float("-inf")
