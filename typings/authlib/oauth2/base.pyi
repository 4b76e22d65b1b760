from typing import Any

from authlib.common.errors import AuthlibHTTPError

def invalid_error_characters(text: str) -> list[str]: ...

class OAuth2Error(AuthlibHTTPError):
    state: str | None
    redirect_uri: str | None
    redirect_fragment: bool
    # raises ValueError when the description holds characters RFC 6749 §4.1.2.1 forbids there
    def __init__(
        self,
        description: str | None = None,
        uri: str | None = None,
        status_code: int | None = None,
        state: str | None = None,
        redirect_uri: str | None = None,
        redirect_fragment: bool = False,
        error: str | None = None,
    ) -> None: ...
    def get_body(self) -> list[tuple[str, Any]]: ...
    # with a redirect_uri: (302, "", [("Location", ...)]); otherwise the status, the error as a dict, the headers
    def __call__(self, uri: str | None = None) -> tuple[int, dict[str, Any] | str, list[tuple[str, str]]]: ...
