from .end_session import EndSessionEndpoint, EndSessionRequest

__all__ = ["EndSessionEndpoint", "EndSessionRequest"]
