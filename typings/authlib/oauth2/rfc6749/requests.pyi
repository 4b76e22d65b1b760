from collections.abc import Mapping
from typing import Any, Protocol, overload, type_check_only

from typing_extensions import deprecated

@type_check_only
class _Headers(Protocol):
    # what Authlib reads from request headers: a dict, or a framework's case-insensitive headers object
    def __contains__(self, key: str, /) -> bool: ...
    def __getitem__(self, key: str, /) -> str: ...
    @overload
    def get(self, key: str, /) -> str | None: ...
    @overload
    def get(self, key: str, default: str, /) -> str: ...

# The parameters of a request. ``data`` is the framework's form-and-query mapping (strings), or the claims of a
# request object (RFC 9101), which may hold any JSON value. Each named parameter is ``None`` when absent, although
# Authlib annotates most of them as ``str``.
class OAuth2Payload:
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def datalist(self) -> Mapping[str, list[Any]]: ...
    @property
    def client_id(self) -> str | None: ...
    @property
    def response_type(self) -> str | None: ...
    @property
    def grant_type(self) -> str | None: ...
    @property
    def redirect_uri(self) -> str | None: ...
    @property
    def scope(self) -> str | None: ...
    @property
    def state(self) -> str | None: ...

class BasicOAuth2Payload(OAuth2Payload):
    def __init__(self, payload: Mapping[str, Any]) -> None: ...

class OAuth2Request(OAuth2Payload):
    method: str
    uri: str
    headers: _Headers
    # None in this base class; every framework request (and any subclass that builds one) sets it in __init__
    payload: OAuth2Payload
    # Authlib's slots for what it learns while handling the request: the authenticated client (from your
    # query_client), the method it authenticated with, the user, and the code, refresh token or credential your
    # grant hooks returned. They hold your own objects, so Authlib types none of them.
    client: Any
    auth_method: str | None
    user: Any
    authorization_code: Any
    refresh_token: Any
    credential: Any
    # raises InsecureTransportError for an http:// uri unless AUTHLIB_INSECURE_TRANSPORT is set
    def __init__(
        self, method: str, uri: str, body: Mapping[str, str] | None = None, headers: _Headers | None = None
    ) -> None: ...
    # the query string and the form body; framework integrations implement both
    @property
    def args(self) -> Mapping[str, str]: ...
    @property
    def form(self) -> Mapping[str, str]: ...
    @property
    @deprecated("use request.payload.data")
    def data(self) -> Mapping[str, Any]: ...
    @property
    @deprecated("use request.payload.datalist")
    def datalist(self) -> Mapping[str, list[Any]]: ...
    @property
    @deprecated("use request.payload.client_id")
    def client_id(self) -> str | None: ...
    @property
    @deprecated("use request.payload.response_type")
    def response_type(self) -> str | None: ...
    @property
    @deprecated("use request.payload.grant_type")
    def grant_type(self) -> str | None: ...
    @property
    @deprecated("use request.payload.redirect_uri")
    def redirect_uri(self) -> str | None: ...
    # the scope the server resolved (set by the authorization code and implicit grants), else the requested one
    @property
    def scope(self) -> str | None: ...
    @scope.setter
    def scope(self, value: str | None) -> None: ...
    @property
    @deprecated("use request.payload.state")
    def state(self) -> str | None: ...
    @property
    @deprecated("use the payload")
    def body(self) -> Mapping[str, str] | None: ...

class JsonPayload:
    @property
    def data(self) -> Any: ...

class JsonRequest:
    method: str
    uri: str
    headers: _Headers
    payload: JsonPayload
    # set by the client registration and configuration endpoints (RFC 7591, RFC 7592) only
    client: Any
    credential: Any
    def __init__(self, method: str, uri: str, headers: _Headers | None = None) -> None: ...
    @property
    @deprecated("use request.payload.data")
    def data(self) -> Any: ...
