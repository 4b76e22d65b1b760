from .code import OpenIDCode, OpenIDToken
from .hybrid import OpenIDHybridGrant
from .implicit import OpenIDImplicitGrant

__all__ = ["OpenIDToken", "OpenIDCode", "OpenIDImplicitGrant", "OpenIDHybridGrant"]
