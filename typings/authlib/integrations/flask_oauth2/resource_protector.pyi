from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar, overload

from authlib.oauth2 import OAuth2Error
from authlib.oauth2 import ResourceProtector as _ResourceProtector

_F = TypeVar("_F", bound=Callable[..., Any])

class ResourceProtector(_ResourceProtector):
    # raises an HTTPException carrying the error's status, JSON body and headers
    def raise_error_response(self, error: OAuth2Error) -> NoReturn: ...
    # the validated token object, also kept for current_token
    def acquire_token(self, scopes: str | list[str] | None = None, **kwargs: Any) -> Any: ...
    @contextmanager
    def acquire(self, scopes: str | list[str] | None = None) -> Iterator[Any]: ...
    @overload
    def __call__(self, scopes: _F, optional: bool = False, **kwargs: Any) -> _F: ...
    @overload
    def __call__(
        self, scopes: str | list[str] | None = None, optional: bool = False, **kwargs: Any
    ) -> Callable[[_F], _F]: ...

# the token of the current request, once a protected view has acquired it
current_token: Any
