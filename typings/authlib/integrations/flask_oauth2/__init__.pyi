from .authorization_server import AuthorizationServer as AuthorizationServer
from .resource_protector import ResourceProtector as ResourceProtector
from .resource_protector import current_token as current_token
from .signals import client_authenticated as client_authenticated
from .signals import token_authenticated as token_authenticated
from .signals import token_revoked as token_revoked
