from .endpoint import ClientConfigurationEndpoint

__all__ = ["ClientConfigurationEndpoint"]
