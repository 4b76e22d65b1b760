from collections.abc import Iterable
from typing import Any

from blinker import NamedSignal

from ..base_client import FrameworkIntegration

# sent with the app as sender, and name=, token=, refresh_token= and access_token= keywords
token_update: NamedSignal

class FlaskIntegration(FrameworkIntegration):
    def update_token(
        self, token: dict[str, Any], refresh_token: str | None = None, access_token: str | None = None
    ) -> None: ...
    # "<NAME>_<PARAM>" keys of the Flask app's config
    @staticmethod
    def load_config(oauth: Any, name: str, params: Iterable[str]) -> dict[str, Any]: ...
