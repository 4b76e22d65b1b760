"""The authorization server: ``create_app(settings)`` builds it."""

from tessera.server.app import create_app

__all__ = ["create_app"]
