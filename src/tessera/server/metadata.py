"""Authorization server metadata, RFC 8414 (with RFC 9207's ``authorization_response_iss_parameter_supported``).

Built once per app from the issuer; ``scopes_supported`` is the union of the registered clients' scopes,
read when the document is asked for.
"""

from collections.abc import Iterable
from typing import Any

__all__ = ["server_metadata"]

_CLIENT_AUTH = ["client_secret_basic", "client_secret_post", "none"]


def server_metadata(issuer: str, scopes: Iterable[str], paths: dict[str, str]) -> dict[str, Any]:
    """The metadata document; ``paths`` maps endpoint names to paths below the issuer."""
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + paths["authorization"],
        "token_endpoint": issuer + paths["token"],
        "introspection_endpoint": issuer + paths["introspection"],
        "revocation_endpoint": issuer + paths["revocation"],
        "scopes_supported": sorted(set(scopes)),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": _CLIENT_AUTH,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": _CLIENT_AUTH,
        "authorization_response_iss_parameter_supported": True,
    }
