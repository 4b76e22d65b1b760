from ..claims import BaseClaims

# The RFC 9101 client metadata, for a registration endpoint's claims_classes.
class ClientMetadataClaims(BaseClaims):
    # defaults it to False; InvalidClaimError when it is not a boolean
    def validate_require_signed_request_object(self) -> None: ...
