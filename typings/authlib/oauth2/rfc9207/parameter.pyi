from typing import Any

from ..rfc6749.authorization_server import AuthorizationServer
from ..rfc6749.grants import BaseGrant

# An authorization server extension: server.register_extension(IssuerParameter()) adds "iss" to every
# authorization response that redirects.
class IssuerParameter:
    # registers add_issuer_parameter as a hook (on a grant: deprecated)
    def __call__(self, authorization_server: AuthorizationServer | BaseGrant) -> None: ...
    # the hook: response is the framework's redirect response, whose location it rewrites
    def add_issuer_parameter(self, authorization_server: Any, response: Any) -> None: ...
    # override: the issuer identifier, or None for no "iss"
    def get_issuer(self) -> str | None: ...
