"""Tessera's own exceptions. Protocol errors on the server side are Authlib's classes, not these.

    TesseraError
    ├── ConfigError           a TESSERA_* variable is missing or wrong; raised at start
    └── StoreError            storage could not do what was asked
        ├── NotFound          no such user or client
        ├── AlreadyExists     a user or client with that name or id exists
        └── StoreUnavailable  the database cannot be reached (HTTP 503 temporarily_unavailable)

Messages are safe to show to whoever caused the error; they never contain a token, code or secret.
"""

__all__ = ["AlreadyExists", "ConfigError", "NotFound", "StoreError", "StoreUnavailable", "TesseraError"]


class TesseraError(Exception):
    """Base of every exception Tessera raises on purpose."""


class ConfigError(TesseraError):
    """A setting is missing or invalid."""


class StoreError(TesseraError):
    """Storage could not do what was asked."""


class NotFound(StoreError):
    """No user or client by that name."""


class AlreadyExists(StoreError):
    """A user or client by that name already exists."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now."""
