from typing import Any, ClassVar

# Client authentication methods for Authlib's OAuth 2 clients (client_auth_methods / register_client_auth_method):
# each adds client_assertion_type and a signed client_assertion to the request body.
class ClientSecretJWT:
    name: ClassVar[str]
    alg: str
    token_endpoint: str | None
    claims: dict[str, Any] | None
    headers: dict[str, Any] | None
    def __init__(
        self,
        token_endpoint: str | None = None,
        claims: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        alg: str | None = None,
    ) -> None: ...
    # auth is the client's ClientAuth: its client_id, and its client_secret as the key
    def sign(self, auth: Any, token_endpoint: str) -> str: ...
    def __call__(self, auth: Any, method: str, uri: str, headers: Any, body: str | None) -> tuple[str, Any, str]: ...

# the same signed with the client's private key (its client_secret holds the key)
class PrivateKeyJWT(ClientSecretJWT): ...
