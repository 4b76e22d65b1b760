from typing import Any

class AuthlibBaseError(Exception):
    #: short-string error code; ``None`` on this base class, a string on every concrete error
    error: str | None
    description: str
    uri: str | None
    def __init__(self, error: str | None = None, description: str | None = None, uri: str | None = None) -> None: ...

class AuthlibHTTPError(AuthlibBaseError):
    status_code: int
    def __init__(
        self,
        error: str | None = None,
        description: str | None = None,
        uri: str | None = None,
        status_code: int | None = None,
    ) -> None: ...
    def get_error_description(self) -> str: ...
    def get_body(self) -> list[tuple[str, Any]]: ...
    def get_headers(self) -> list[tuple[str, str]]: ...
    # the body is a dict here; OAuth2Error answers a redirect with an empty string body instead
    def __call__(self, uri: str | None = None) -> tuple[int, dict[str, Any] | str, list[tuple[str, str]]]: ...

class ContinueIteration(AuthlibBaseError): ...
