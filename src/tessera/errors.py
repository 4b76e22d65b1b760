"""Tessera's own exceptions. Protocol errors on the server side are Authlib's classes, not these.

    TesseraError
    ├── ConfigError           a TESSERA_* variable is missing or wrong; raised at start
    ├── InvalidInput          what someone asked to register breaks a rule (the message says which)
    │   ├── InvalidClientMetadata   a client's metadata (RFC 7591 ``invalid_client_metadata``)
    │   │   └── InvalidRedirectUri  one of its redirect URIs (RFC 7591 ``invalid_redirect_uri``)
    │   ├── InvalidAccount          a username or password
    │   ├── InvalidResource         a protected resource's URI, name or scope
    │   └── InvalidScope            a scope's name or description, or a change to a scope
    │       └── ScopeInUse          a scope to delete is still held by clients
    └── StoreError            storage could not do what was asked
        ├── NotFound          no such user, client, scope or resource
        ├── AlreadyExists     a user, client or scope with that name or id exists
        ├── StoreUnavailable  the database cannot be reached (HTTP 503 temporarily_unavailable)
        └── ValueRefused      the database refused a value it was given (HTTP 400 invalid_request)

Messages are safe to show to whoever caused the error; they never contain a token, code or secret.
"""

__all__ = [
    "AlreadyExists",
    "ConfigError",
    "InvalidAccount",
    "InvalidClientMetadata",
    "InvalidInput",
    "InvalidRedirectUri",
    "InvalidResource",
    "InvalidScope",
    "NotFound",
    "ScopeInUse",
    "StoreError",
    "StoreUnavailable",
    "TesseraError",
    "ValueRefused",
]


class TesseraError(Exception):
    """Base of every exception Tessera raises on purpose."""


class ConfigError(TesseraError):
    """A setting is missing or invalid."""


class InvalidInput(TesseraError):
    """Something to be registered breaks a rule; the message names the rule."""


class InvalidClientMetadata(InvalidInput):
    """A client's metadata is refused (RFC 7591 §3.2.2)."""

    error = "invalid_client_metadata"


class InvalidRedirectUri(InvalidClientMetadata):
    """A redirect URI is refused (RFC 7591 §3.2.2)."""

    error = "invalid_redirect_uri"


class InvalidAccount(InvalidInput):
    """A username or password is refused."""


class InvalidResource(InvalidInput):
    """A protected resource (RFC 8707) to register is refused: its URI, name or scope."""


class InvalidScope(InvalidInput):
    """A scope's name or description is refused, or a change to a scope is."""


class ScopeInUse(InvalidScope):
    """A scope cannot be deleted while clients hold it (unless forced), nor when it is a client's only scope."""


class StoreError(TesseraError):
    """Storage could not do what was asked."""


class NotFound(StoreError):
    """No user, client or scope by that name."""


class AlreadyExists(StoreError):
    """A user, client or scope by that name already exists."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now."""


class ValueRefused(StoreError):
    """The database refused a value it was given (PostgreSQL: a NUL character in text, a number out of range).

    The request's input is at fault, not the server: the boundaries refuse such values first
    (:mod:`tessera.server.characters`), and this is what one that slips past them becomes."""
