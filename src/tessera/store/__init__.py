"""Storage: the schema, the repositories (the only code that issues SQL), their protocols, and migrations."""

from tessera.store.db import make_engine
from tessera.store.migrate import upgrade
from tessera.store.protocols import (
    AuditEvents,
    Clients,
    Consents,
    DeviceAuthorizations,
    Scopes,
    Sessions,
    SigningKeys,
    Storage,
    TokenReader,
    Tokens,
    Users,
)
from tessera.store.records import (
    ActiveToken,
    AllowedApp,
    AuditRecord,
    ClientRecord,
    CodeRecord,
    DeviceRecord,
    NewToken,
    RefreshRecord,
    ScopeRecord,
    SessionRecord,
    SigningKeyRecord,
    TokenRef,
    UserRecord,
)
from tessera.store.repositories import Store

__all__ = [
    "ActiveToken",
    "AllowedApp",
    "AuditEvents",
    "AuditRecord",
    "ClientRecord",
    "Clients",
    "CodeRecord",
    "Consents",
    "DeviceAuthorizations",
    "DeviceRecord",
    "NewToken",
    "RefreshRecord",
    "ScopeRecord",
    "Scopes",
    "SessionRecord",
    "Sessions",
    "SigningKeyRecord",
    "SigningKeys",
    "Storage",
    "Store",
    "TokenReader",
    "TokenRef",
    "Tokens",
    "UserRecord",
    "Users",
    "make_engine",
    "upgrade",
]
