from collections import defaultdict

from authlib.oauth2.rfc6749 import JsonPayload, JsonRequest, OAuth2Payload, OAuth2Request
from flask.wrappers import Request
from werkzeug.datastructures import CombinedMultiDict, EnvironHeaders, ImmutableMultiDict, MultiDict

class FlaskOAuth2Payload(OAuth2Payload):
    def __init__(self, request: Request) -> None: ...
    # the query string and the form together
    @property
    def data(self) -> CombinedMultiDict[str, str]: ...
    @property
    def datalist(self) -> defaultdict[str, list[str]]: ...

class FlaskOAuth2Request(OAuth2Request):
    headers: EnvironHeaders
    payload: FlaskOAuth2Payload
    def __init__(self, request: Request) -> None: ...
    @property
    def args(self) -> MultiDict[str, str]: ...
    @property
    def form(self) -> ImmutableMultiDict[str, str]: ...

class FlaskJsonPayload(JsonPayload):
    def __init__(self, request: Request) -> None: ...

class FlaskJsonRequest(JsonRequest):
    headers: EnvironHeaders
    payload: FlaskJsonPayload
    def __init__(self, request: Request) -> None: ...
