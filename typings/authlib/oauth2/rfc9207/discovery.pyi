from typing import Any, ClassVar

# The RFC 9207 member of server metadata, for AuthorizationServerMetadata.validate(metadata_classes=[...]).
class AuthorizationServerMetadata(dict[str, Any]):
    REGISTRY_KEYS: ClassVar[list[str]]
    def validate_authorization_response_iss_parameter_supported(self) -> None: ...
