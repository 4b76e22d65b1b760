from typing import Any, ClassVar

# The RFC 9101 member of server metadata, for AuthorizationServerMetadata.validate(metadata_classes=[...]).
class AuthorizationServerMetadata(dict[str, Any]):
    REGISTRY_KEYS: ClassVar[list[str]]
    def validate_require_signed_request_object(self) -> None: ...
