from collections.abc import Callable
from typing import Any, ClassVar

from flask import Flask

from ..base_client import BaseOAuth, OAuthError
from .apps import FlaskOAuth1App, FlaskOAuth2App
from .integration import FlaskIntegration, token_update

__all__ = ["OAuth", "FlaskIntegration", "FlaskOAuth1App", "FlaskOAuth2App", "token_update", "OAuthError"]

class OAuth(BaseOAuth):
    oauth1_client_cls: ClassVar[type[FlaskOAuth1App]]
    oauth2_client_cls: ClassVar[type[FlaskOAuth2App]]
    framework_integration_cls: ClassVar[type[FlaskIntegration]]
    app: Flask | None
    def __init__(
        self,
        app: Flask | None = None,
        cache: Any = None,
        fetch_token: Callable[..., Any] | None = None,
        update_token: Callable[..., Any] | None = None,
    ) -> None: ...
    def init_app(
        self,
        app: Flask,
        cache: Any = None,
        fetch_token: Callable[..., Any] | None = None,
        update_token: Callable[..., Any] | None = None,
    ) -> None: ...
    # RuntimeError before init_app
    def create_client(self, name: str) -> Any: ...
    # the client (a FlaskOAuth2App unless client_cls or request_token_url says otherwise); without an app yet,
    # a proxy that creates it on first use
    def register(self, name: str, overwrite: bool = False, **kwargs: Any) -> Any: ...
