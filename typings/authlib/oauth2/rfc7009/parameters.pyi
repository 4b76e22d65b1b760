# the form body and headers of a revocation request
def prepare_revoke_token_request(
    token: str, token_type_hint: str | None = None, body: str | None = None, headers: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]: ...
