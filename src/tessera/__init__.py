"""Tessera: an opaque-token OAuth 2.0 authorization server and the toolkit APIs use to accept its tokens."""

__version__ = "0.1.0"
__all__ = ["__version__"]
