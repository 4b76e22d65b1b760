"""Tessera: an opaque-token OAuth 2.0 authorization server and the toolkit APIs use to accept its tokens.

Two distributions install this package: ``tessera-oauth`` (the server, the CLI and the toolkit) and
``tessera-oauth-resource`` (the toolkit alone: :mod:`tessera.resource`, :mod:`tessera.tokens`,
:mod:`tessera.events`). Their version is this one.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
