from typing import Any, NoReturn

from werkzeug.exceptions import HTTPException

class _HTTPException(HTTPException):
    body: str
    def __init__(self, code: int, body: str, headers: list[tuple[str, str]], response: Any = None) -> None: ...

def raise_http_exception(status: int, body: str, headers: list[tuple[str, str]]) -> NoReturn: ...
